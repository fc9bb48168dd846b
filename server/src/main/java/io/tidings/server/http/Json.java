package io.tidings.server.http;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.cfg.JsonNodeFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import io.netty.buffer.ByteBufOutputStream;
import io.netty.buffer.Unpooled;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.internal.buffer.BufferInternal;
import java.io.IOException;
import java.io.UncheckedIOException;

/** The project's one JSON configuration: strict on input, exact with numbers, compact on output. */
public final class Json {
  /** Parses request bodies: duplicate keys and trailing garbage are errors; decimals stay exact. */
  public static final ObjectMapper MAPPER = JsonMapper.builder(
          JsonFactory.builder()
              .streamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(256).build())
              .build())
      .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
      .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
      .enable(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS)
      .disable(JsonNodeFeature.STRIP_TRAILING_BIGDECIMAL_ZEROES)
      .build();

  private static final JsonFactory FACTORY = MAPPER.getFactory();

  private Json() {}

  /** Something that writes one JSON document. */
  @FunctionalInterface
  public interface Writer {
    void write(JsonGenerator gen) throws IOException;
  }

  /** Encodes straight into a Vert.x buffer, without an intermediate byte array. */
  public static Buffer encode(Writer writer) {
    var buf = Unpooled.buffer(256);
    try (JsonGenerator gen = FACTORY.createGenerator((java.io.OutputStream) new ByteBufOutputStream(buf))) {
      writer.write(gen);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return BufferInternal.buffer(buf);
  }

  /** Encodes into a byte array, for encodings shared across connections. */
  public static byte[] bytes(Writer writer) {
    var out = new java.io.ByteArrayOutputStream(256);
    try (JsonGenerator gen = FACTORY.createGenerator(out)) {
      writer.write(gen);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out.toByteArray();
  }

  /** Encodes into a string: small documents kept in the store. */
  public static String bytesToString(Writer writer) {
    return new String(bytes(writer), java.nio.charset.StandardCharsets.UTF_8);
  }

  /** Parses a document this server wrote itself (a stored record); malformed text is a bug, thrown as such. */
  public static com.fasterxml.jackson.databind.JsonNode parse(String text) {
    try {
      return MAPPER.readTree(text);
    } catch (IOException e) {
      throw new IllegalStateException("a stored document is not valid JSON: " + e.getMessage(), e);
    }
  }

  /** Parses a request body that must be JSON: {@code 400 invalid_json} otherwise. */
  public static com.fasterxml.jackson.databind.JsonNode requestBody(Buffer body) {
    try {
      return MAPPER.readTree(body.getBytes());
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw ApiException.badRequest("invalid_json", "the body is not valid JSON: " + e.getOriginalMessage());
    } catch (IOException e) {
      throw ApiException.badRequest("invalid_json", "the body is not valid JSON");
    }
  }
}
