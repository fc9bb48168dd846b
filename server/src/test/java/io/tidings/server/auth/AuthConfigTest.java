package io.tidings.server.auth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.tidings.server.config.ConfigException;
import io.tidings.server.config.ConfigLoader;
import io.tidings.server.config.TidingsConfig;
import io.tidings.server.testing.Tokens;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The {@code auth} section: what is refused at start, and where its files are looked for. */
class AuthConfigTest {
  private static TidingsConfig load(String yaml) throws Exception {
    Path file = Files.createTempFile("tidings-auth-config-", ".yaml");
    Files.writeString(file, yaml);
    return ConfigLoader.load(file, Map.of(), Map.of());
  }

  private static void refused(String yaml, String says) {
    assertThatThrownBy(() -> load(yaml)).isInstanceOf(ConfigException.class).hasMessageContaining(says);
  }

  @Test
  void noAuthSectionMeansOpen_anEmptyOneMeansNothingIsGranted() throws Exception {
    assertThat(load("server: { port: 0 }\n").auth).isNull();
    TidingsConfig empty = load("auth:\n");
    assertThat(empty.auth).as("'auth:' alone turns authentication on").isNotNull();
    Authenticator a = Authenticator.create(empty.auth);
    assertThat(a.enabled()).isTrue();
    assertThat(a.anonymous().maySubscribe("any/topic")).isFalse();
  }

  @Test
  void mistakesAreRefusedWithTheKeyNamed() {
    refused("auth: { jwt: { hs256_secret: short } }\n", "auth.jwt.hs256_secret must be at least 32 bytes");
    refused("auth: { jwt: { clock_skew: 30s } }\n", "auth.jwt needs at least one of");
    refused("auth: { api_keys: [ { name: a, sha256: abc } ] }\n", "auth.api_keys[0].sha256");
    String hex = Tokens.sha256Hex("tk_x");
    refused("auth: { api_keys: [ { name: a, sha256: " + hex + " }, { name: a, sha256: " + Tokens.sha256Hex("tk_y")
        + " } ] }\n", "used twice");
    refused("auth: { api_keys: [ { name: a, sha256: " + hex + ", publish: [\"a*\"] } ] }\n", "auth.api_keys[0].publish");
    refused("auth: { anonymous: { subscribe: [\"users/{sub}/**\"] } }\n", "anonymous requests have none");
    refused("auth: { jwt: { rs256_public_key: missing.pem } }\n", "auth.jwt.rs256_public_key: cannot read");
  }

  @Test
  void keyFilesAreRelativeToTheConfigFile_andMustHoldTheRightKind() throws Exception {
    Path dir = Files.createTempDirectory("tidings-auth-keys-");
    Files.writeString(dir.resolve("rs.pem"), Tokens.pem(Tokens.rsaKey(null).toRSAPublicKey()));
    Files.writeString(dir.resolve("es.pem"), Tokens.pem(Tokens.ecKey(null).toECPublicKey()));
    Files.writeString(dir.resolve("jwks.json"), Tokens.jwks(Tokens.rsaKey("k")));
    Path file = dir.resolve("tidings.yaml");
    Files.writeString(file, "auth: { jwt: { rs256_public_key: rs.pem, es256_public_key: es.pem, jwks: jwks.json } }\n");
    TidingsConfig c = ConfigLoader.load(file, Map.of(), Map.of());
    assertThat(c.auth.jwt.rs256PublicKey).isEqualTo(dir.resolve("rs.pem").toString());
    assertThat(c.auth.jwt.jwks).isEqualTo(dir.resolve("jwks.json").toString());
    Authenticator.create(c.auth).close();
    Files.writeString(file, "auth: { jwt: { rs256_public_key: es.pem } }\n");
    TidingsConfig swapped = ConfigLoader.load(file, Map.of(), Map.of());
    assertThatThrownBy(() -> Authenticator.create(swapped.auth)).isInstanceOf(ConfigException.class)
        .hasMessageContaining("auth.jwt.rs256_public_key");
  }

  @Test
  void theSecretMayComeFromTheEnvironment() throws Exception {
    TidingsConfig c = ConfigLoader.load(null,
        Map.of("TIDINGS_AUTH__JWT__HS256_SECRET", "\"a secret from the environment, 32+ bytes\""), Map.of());
    assertThat(c.auth.jwt.hs256Secret).isEqualTo("a secret from the environment, 32+ bytes");
  }
}
