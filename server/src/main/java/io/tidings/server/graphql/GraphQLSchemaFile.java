package io.tidings.server.graphql;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/** The schema file shipped in the jar ({@code schema.graphql} beside this class), read once. */
final class GraphQLSchemaFile {
  static final String TEXT = read();
  /** A strong ETag of the text, for {@code GET /v1/graphql/schema.graphql}. */
  static final String ETAG = '"' + sha256(TEXT).substring(0, 32) + '"';

  private GraphQLSchemaFile() {}

  private static String read() {
    try (InputStream in = GraphQLSchemaFile.class.getResourceAsStream("schema.graphql")) {
      if (in == null) {
        throw new IllegalStateException("schema.graphql is missing from the classpath");
      }
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new IllegalStateException("cannot read schema.graphql", e);
    }
  }

  private static String sha256(String text) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
