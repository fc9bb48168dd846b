package io.tidings.server.outbound;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;

/**
 * Resolves host names for {@link TargetGuard}: the seam where tests substitute a table
 * ({@code "internal.example" -> 10.0.0.5}). Only names reach it, never IP literals.
 */
public interface Resolver {
  /**
   * All addresses of {@code host}; completes exceptionally (with {@link UnknownHostException} when
   * the name does not exist) rather than with an empty list.
   */
  CompletionStage<List<InetAddress>> resolve(String host);

  /**
   * The system resolver ({@link InetAddress#getAllByName}, hence {@code /etc/hosts} and the JDK's DNS
   * cache), run on {@code blockingExecutor} because it blocks.
   */
  static Resolver system(Executor blockingExecutor) {
    return host -> CompletableFuture.supplyAsync(() -> {
      try {
        return List.of(InetAddress.getAllByName(host));
      } catch (UnknownHostException e) {
        throw new CompletionException(e);
      }
    }, blockingExecutor);
  }
}
