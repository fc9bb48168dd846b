package io.tidings.server.testing;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.regex.Pattern;

/** Assertions for shapes the wire contract fixes (docs: /work/shared/spec/api.md). */
public final class Contract {
  /** §1: an opaque URL-safe string of at most 512 characters. */
  public static final Pattern CURSOR = Pattern.compile("[A-Za-z0-9_.:~-]{1,512}");
  /** §4.3: seconds as a decimal. */
  public static final Pattern DECIMAL = Pattern.compile("[0-9]+(\\.[0-9]+)?");
  /** Event times: ISO-8601 UTC. */
  public static final Pattern ISO_TIME = Pattern.compile("\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d{1,9})?Z");

  private Contract() {}

  /**
   * §2: status, JSON {@code {"error":{"code","message"}}} with the given code and a non-empty
   * message, {@code Cache-Control: no-store}, and no validators of a success.
   */
  public static JsonNode assertError(Http.Reply r, int status, String code) {
    assertThat(r.status()).as("status of %s", r).isEqualTo(status);
    assertThat(r.header("Content-Type")).as("Content-Type of %s", r).startsWith("application/json");
    assertThat(r.header("Cache-Control")).as("Cache-Control of an error: %s", r).isEqualTo("no-store");
    assertThat(r.header("ETag")).as("an error carries no ETag: %s", r).isNull();
    JsonNode body = r.json();
    JsonNode error = body.get("error");
    assertThat(error).as("error object in %s", r.body()).isNotNull();
    assertThat(error.isObject()).as("error is an object in %s", r.body()).isTrue();
    if (code != null) {
      assertThat(error.path("code").asText()).as("error code in %s", r.body()).isEqualTo(code);
    } else {
      assertThat(error.path("code").asText()).as("error code in %s", r.body()).matches("[a-z][a-z0-9_]*");
    }
    assertThat(error.path("code").isTextual()).isTrue();
    assertThat(error.path("message").isTextual()).as("error message in %s", r.body()).isTrue();
    assertThat(error.path("message").asText()).as("error message in %s", r.body()).isNotBlank();
    return body;
  }

  /** A cursor of the contract's shape. */
  public static String assertCursor(JsonNode node) {
    assertThat(node).as("cursor").isNotNull();
    assertThat(node.isTextual()).as("cursor is a string: %s", node).isTrue();
    assertThat(node.asText()).matches(CURSOR);
    return node.asText();
  }

  /** The opaque value inside a strong ETag, asserting it is strong and quoted. */
  public static String etagValue(Http.Reply r) {
    String etag = r.header("ETag");
    assertThat(etag).as("ETag of %s", r).isNotNull().startsWith("\"").endsWith("\"");
    assertThat(etag.length()).isGreaterThanOrEqualTo(3);
    return etag.substring(1, etag.length() - 1);
  }

  /** §4.3: {@code Tidings-Poll-Interval} is a positive decimal; returns it. */
  public static double pollInterval(Http.Reply r) {
    String v = r.header("Tidings-Poll-Interval");
    assertThat(v).as("Tidings-Poll-Interval of %s", r).isNotNull().matches(DECIMAL);
    double seconds = Double.parseDouble(v);
    assertThat(seconds).as("Tidings-Poll-Interval").isPositive();
    return seconds;
  }
}
