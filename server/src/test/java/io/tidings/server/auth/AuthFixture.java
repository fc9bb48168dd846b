package io.tidings.server.auth;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.RSAKey;
import io.tidings.server.testing.Tokens;
import io.tidings.server.testing.Tokens.Claims;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * One server's worth of auth configuration for the integration tests: an HS256 secret, RS256 and
 * ES256 PEM keys, a JWK set file with one more RSA key, two API keys, anonymous read access to
 * {@code public/**}. Every token it makes is remembered, so a test can check none reaches the log.
 */
final class AuthFixture {
  static final String SECRET = "an HS256 secret that is long enough: 0123456789";
  static final String BACKEND_KEY = "tk_backend_5b0e1f7c2a9d4e6f8a1b3c5d7e9f0a2b";
  static final String FEEDER_KEY = "tk_feeder_0f1e2d3c4b5a69788796a5b4c3d2e1f0";

  final RSAKey rsa = Tokens.rsaKey(null);
  final ECKey ec = Tokens.ecKey(null);
  final RSAKey jwksRsa = Tokens.rsaKey("file-1");
  final Path dir;
  private final List<String> secrets = Collections.synchronizedList(new ArrayList<>(List.of(SECRET, BACKEND_KEY, FEEDER_KEY)));

  AuthFixture() throws IOException {
    dir = Files.createTempDirectory("tidings-auth-");
    try {
      Files.writeString(dir.resolve("rs.pem"), Tokens.pem(rsa.toRSAPublicKey()));
      Files.writeString(dir.resolve("es.pem"), Tokens.pem(ec.toECPublicKey()));
    } catch (JOSEException e) {
      throw new IllegalStateException(e);
    }
    Files.writeString(dir.resolve("jwks.json"), Tokens.jwks(jwksRsa));
  }

  /** The configuration; {@code extra} is appended (more sections). */
  String yaml(String extra) {
    return """
        auth:
          jwt:
            hs256_secret: "%s"
            rs256_public_key: %s
            es256_public_key: %s
            jwks: %s
            clock_skew: 2s
          api_keys:
            - { name: backend, sha256: "%s", publish: ["**"], subscribe: ["**"], admin: true }
            - { name: feeder, sha256: "%s", publish: ["feeds/*"] }
          anonymous: { subscribe: ["public/**"], publish: [] }
        """.formatted(SECRET, dir.resolve("rs.pem"), dir.resolve("es.pem"), dir.resolve("jwks.json"),
        Tokens.sha256Hex(BACKEND_KEY), Tokens.sha256Hex(FEEDER_KEY).toUpperCase(java.util.Locale.ROOT)) + extra;
  }

  String hs(Claims c) {
    return remember(Tokens.hs256(SECRET, c));
  }

  String rs(Claims c) {
    return remember(Tokens.rs256(rsa, false, c));
  }

  String es(Claims c) {
    return remember(Tokens.es256(ec, false, c));
  }

  String jwksRs(Claims c) {
    return remember(Tokens.rs256(jwksRsa, true, c));
  }

  String remember(String token) {
    secrets.add(token);
    return token;
  }

  /** Every token and key handed out so far. */
  List<String> secrets() {
    synchronized (secrets) {
      return List.copyOf(secrets);
    }
  }
}
