package io.tidings.server.http;

import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.JarURLConnection;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Collections;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.Locale;
import java.util.Map;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;
import java.util.stream.Stream;

/**
 * The files the server ships besides its API: the JavaScript client under {@code /client/}, the
 * demo apps under {@code /examples/} and the admin page's files under {@code /admin/}. They are read from the classpath ({@code tidings-web/}) once,
 * at start, so serving one never touches the disk from an event loop. Each has a strong ETag from
 * its content and {@code Cache-Control: no-cache}: browsers revalidate and get a 304.
 */
public final class StaticFiles {
  /** Where the build puts the files on the classpath. */
  public static final String ROOT = "tidings-web/";

  private record File(Buffer body, String type, String etag) {}

  private final Map<String, File> files;

  private StaticFiles(Map<String, File> files) {
    this.files = files;
  }

  /** Whether {@code path} belongs to the static files' part of the URL space. */
  public static boolean owns(String path) {
    return path.startsWith("/client/") || path.startsWith("/examples/") || path.equals("/examples")
        || path.startsWith("/admin/");
  }

  /** Loads everything under {@value #ROOT} on the classpath of {@code loader}. */
  public static StaticFiles load(ClassLoader loader) {
    Map<String, File> files = new HashMap<>();
    try {
      for (URL root : Collections.list(loader.getResources(ROOT))) {
        switch (root.getProtocol()) {
          case "file" -> loadDirectory(Path.of(root.toURI()), files);
          case "jar" -> loadJar((JarURLConnection) root.openConnection(), files);
          default -> throw new IllegalStateException("cannot list " + root);
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read the bundled web files", e);
    } catch (URISyntaxException e) {
      throw new IllegalStateException(e);
    }
    return new StaticFiles(Map.copyOf(files));
  }

  private static void loadDirectory(Path root, Map<String, File> files) throws IOException {
    try (Stream<Path> walk = Files.walk(root)) {
      for (Path p : (Iterable<Path>) walk.filter(Files::isRegularFile)::iterator) {
        String name = root.relativize(p).toString().replace('\\', '/');
        files.putIfAbsent("/" + name, file(name, Files.readAllBytes(p)));
      }
    }
  }

  private static void loadJar(JarURLConnection connection, Map<String, File> files) throws IOException {
    connection.setUseCaches(false);
    try (JarFile jar = connection.getJarFile()) {
      for (JarEntry entry : Collections.list(jar.entries())) {
        if (entry.isDirectory() || !entry.getName().startsWith(ROOT)) {
          continue;
        }
        String name = entry.getName().substring(ROOT.length());
        try (InputStream in = jar.getInputStream(entry)) {
          files.putIfAbsent("/" + name, file(name, in.readAllBytes()));
        }
      }
    }
  }

  private static File file(String name, byte[] bytes) {
    try {
      byte[] digest = MessageDigest.getInstance("SHA-256").digest(bytes);
      String etag = "\"" + HexFormat.of().formatHex(digest, 0, 12) + "\"";
      return new File(Buffer.buffer(bytes), contentType(name), etag);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  static String contentType(String name) {
    String lower = name.toLowerCase(Locale.ROOT);
    if (lower.endsWith(".d.ts")) {
      return "application/typescript; charset=utf-8";
    }
    int dot = lower.lastIndexOf('.');
    return switch (dot < 0 ? "" : lower.substring(dot + 1)) {
      case "js", "mjs" -> "text/javascript; charset=utf-8";
      case "html" -> "text/html; charset=utf-8";
      case "css" -> "text/css; charset=utf-8";
      case "json" -> "application/json";
      case "webmanifest" -> "application/manifest+json";
      case "svg" -> "image/svg+xml";
      case "png" -> "image/png";
      case "ico" -> "image/x-icon";
      case "md", "txt" -> "text/plain; charset=utf-8";
      default -> "application/octet-stream";
    };
  }

  /** Files served, for tests and the start-up log. */
  public int size() {
    return files.size();
  }

  /**
   * Answers a GET or HEAD with the file at {@code path} and {@code status}, never cached (a page
   * whose status depends on who asks).
   */
  public void page(HttpServerRequest request, String path, int status) {
    HttpServerResponse response = request.response();
    File file = files.get(path);
    if (file == null) {
      Responses.error(response, new ApiException(404, "not_found", "no such file: " + path));
      return;
    }
    response.setStatusCode(status)
        .putHeader(Headers.CACHE_CONTROL, Headers.NO_STORE)
        .putHeader("X-Content-Type-Options", "nosniff")
        .putHeader(HttpHeaders.CONTENT_TYPE, file.type());
    if (request.method() == HttpMethod.HEAD) {
      response.putHeader(HttpHeaders.CONTENT_LENGTH, Integer.toString(file.body().length())).end();
    } else {
      response.end(file.body());
    }
  }

  /** Answers a GET or HEAD for a path that {@link #owns}. */
  public void handle(HttpServerRequest request) {
    HttpServerResponse response = request.response();
    String path = request.path();
    File file = files.get(path);
    if (file == null && path.endsWith("/")) {
      file = files.get(path + "index.html");
    }
    if (file == null) {
      if (files.containsKey(path + "/index.html")) {
        // A folder without its slash: relative links inside its page need the slash.
        String query = request.query();
        response.setStatusCode(301)
            .putHeader(HttpHeaders.LOCATION, path + "/" + (query == null ? "" : "?" + query))
            .putHeader(Headers.CACHE_CONTROL, "no-cache")
            .end();
        return;
      }
      Responses.error(response, new ApiException(404, "not_found", "no such file: " + path));
      return;
    }
    response.putHeader(Headers.CACHE_CONTROL, "no-cache")
        .putHeader(HttpHeaders.ETAG, file.etag())
        .putHeader("X-Content-Type-Options", "nosniff");
    String match = request.getHeader(HttpHeaders.IF_NONE_MATCH);
    if (match != null && matches(match, file.etag())) {
      response.setStatusCode(304).end();
      return;
    }
    response.putHeader(HttpHeaders.CONTENT_TYPE, file.type());
    if (request.method() == HttpMethod.HEAD) {
      response.putHeader(HttpHeaders.CONTENT_LENGTH, Integer.toString(file.body().length())).end();
    } else {
      response.end(file.body());
    }
  }

  private static boolean matches(String header, String etag) {
    for (String candidate : header.split(",")) {
      String c = candidate.trim();
      if (c.equals("*") || c.equals(etag) || c.equals("W/" + etag)) {
        return true;
      }
    }
    return false;
  }
}
