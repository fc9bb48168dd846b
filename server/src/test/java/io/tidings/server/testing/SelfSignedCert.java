package io.tidings.server.testing;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/** A throwaway EC P-256 certificate made with the {@code openssl} command, for TLS tests. */
public final class SelfSignedCert {
  private SelfSignedCert() {}

  /** Writes {@code key.pem} and {@code cert.pem} for {@code localhost} and {@code 127.0.0.1} into {@code dir}. */
  public static void localhost(Path dir) throws IOException, InterruptedException {
    write(dir, "localhost", "IP:127.0.0.1,DNS:localhost");
  }

  /**
   * Writes {@code key.pem} and {@code cert.pem} into {@code dir}.
   *
   * @param commonName the subject's CN
   * @param subjectAltNames the subjectAltName extension, e.g. {@code DNS:hooks.test}
   */
  public static void write(Path dir, String commonName, String subjectAltNames) throws IOException, InterruptedException {
    Process openssl = new ProcessBuilder("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
        "-nodes", "-days", "2", "-subj", "/CN=" + commonName, "-addext", "subjectAltName=" + subjectAltNames,
        "-keyout", dir.resolve("key.pem").toString(), "-out", dir.resolve("cert.pem").toString())
        .redirectErrorStream(true).start();
    String out = new String(openssl.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(openssl.waitFor(30, TimeUnit.SECONDS)).isTrue();
    assertThat(openssl.exitValue()).as(out).isZero();
  }
}
