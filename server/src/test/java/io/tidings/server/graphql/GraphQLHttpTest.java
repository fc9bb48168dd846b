package io.tidings.server.graphql;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import graphql.schema.idl.SchemaParser;
import graphql.schema.idl.TypeDefinitionRegistry;
import io.tidings.server.testing.Http;
import io.tidings.server.testing.NodeScript;
import io.tidings.server.testing.TidingsProcess;
import io.tidings.server.testing.Tokens;
import io.tidings.server.testing.Tokens.Claims;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** GraphQL queries and mutations over HTTP ({@code POST} and {@code GET /v1/graphql}) and the served schema. */
class GraphQLHttpTest {
  private static final String SECRET = "graphql-http-test-secret-0123456789abcdefghij";
  private static final String CONFIG = """
      store: { retention_interval: 100ms }
      retention:
        - { topic: "gh/trim/**", max_events: 2 }
      auth:
        jwt: { hs256_secret: "%s" }
        anonymous: { subscribe: ["public/**"] }
      push:
        graphql: { max_depth: 15 }
      """.formatted(SECRET);
  private static final String TOKEN = Tokens.hs256(SECRET, Claims.of("alice").subscribing("gh/**").publishing("gh/**"));
  private static final String READER = Tokens.hs256(SECRET, Claims.of("carol").subscribing("other/**"));
  private static final String EVENT_FIELDS = "topic offset cursor id type key data time";

  private static TidingsProcess server;
  private static Http http;

  @BeforeAll
  static void start() throws Exception {
    server = TidingsProcess.builder().name("graphql-http").memory().config(CONFIG).start();
    http = new Http(server);
  }

  @AfterAll
  static void stop() {
    if (server != null) {
      server.close();
    }
  }

  private static Http.Reply post(String token, String query, Map<String, Object> variables) throws Exception {
    ObjectNode body = Http.JSON.createObjectNode().put("query", query);
    if (variables != null) {
      body.set("variables", Http.JSON.valueToTree(variables));
    }
    List<String> headers = new ArrayList<>(List.of("Content-Type", "application/json"));
    if (token != null) {
      headers.addAll(List.of("Authorization", "Bearer " + token));
    }
    return http.method("POST", "/v1/graphql", Http.JSON.writeValueAsString(body), headers.toArray(String[]::new));
  }

  /** Runs {@code query} as alice and returns its data, failing on any error. */
  private static JsonNode data(String query, Map<String, Object> variables) throws Exception {
    Http.Reply r = post(TOKEN, query, variables);
    assertThat(r.status()).as("%s", r).isEqualTo(200);
    assertThat(r.header("Content-Type")).startsWith("application/json");
    assertThat(r.json().has("errors")).as("%s", r.body()).isFalse();
    return r.json().get("data");
  }

  /** Runs {@code query} and returns its single error. */
  private static JsonNode error(String token, String query, Map<String, Object> variables) throws Exception {
    Http.Reply r = post(token, query, variables);
    assertThat(r.status()).as("%s", r).isEqualTo(200);
    JsonNode errors = r.json().get("errors");
    assertThat(errors).as("%s", r.body()).isNotNull().hasSize(1);
    return errors.get(0);
  }

  private static JsonNode rest(String pathAndQuery) {
    Http.Reply r = http.get(pathAndQuery, "Authorization", "Bearer " + TOKEN);
    assertThat(r.status()).as("%s", r).isEqualTo(200);
    return r.json();
  }

  private static JsonNode publish(String topic, String events) {
    Http.Reply r = http.method("POST", "/v1/events?topic=" + Http.enc(topic), events,
        "Authorization", "Bearer " + TOKEN, "Content-Type", "application/json");
    assertThat(r.status()).as("%s", r).isEqualTo(201);
    return r.json();
  }

  @Test
  void queriesAnswerWhatTheJsonApiAnswers() throws Exception {
    publish("gh/q", "[{\"type\":\"put\",\"key\":\"a\",\"data\":{\"x\":1}},{\"type\":\"put\",\"key\":\"b\",\"data\":\"two\"},"
        + "{\"data\":[1,2,3],\"id\":\"m-3\"},{\"type\":\"delete\",\"key\":\"a\"},{\"type\":\"put\",\"key\":\"c\",\"data\":null}]");

    JsonNode state = data("query($t: String!) { state(topic: $t, limit: 1) { topic cursor next_key entries { key data offset time } } }",
        Map.of("t", "gh/q")).get("state");
    JsonNode restState = rest("/v1/state?topic=gh/q&limit=1");
    assertThat(state).isEqualTo(restState);
    JsonNode rest2 = data("{ state(topic: \"gh/q\", afterKey: \"b\") { next_key entries { key data } } }", null).get("state");
    assertThat(rest2.get("entries")).hasSize(1);
    assertThat(rest2.get("entries").get(0).get("key").asText()).isEqualTo("c");
    assertThat(rest2.get("entries").get(0).get("data").isNull()).isTrue();
    assertThat(rest2.get("next_key").isNull()).isTrue();

    JsonNode changes = data("{ changes(topic: \"gh/q\", limit: 3) { topic cursor more events { " + EVENT_FIELDS + " } } }", null)
        .get("changes");
    JsonNode restChanges = rest("/v1/changes?topic=gh/q&limit=3");
    assertThat(changes.get("cursor")).isEqualTo(restChanges.get("cursor"));
    assertThat(changes.get("more").asBoolean()).isTrue();
    for (int i = 0; i < 3; i++) {
      JsonNode got = changes.get("events").get(i);
      JsonNode want = restChanges.get("events").get(i);
      want.fieldNames().forEachRemaining(f -> assertThat(got.get(f)).as("%s of event %s", f, want).isEqualTo(want.get(f)));
    }
    // The cursor of a GraphQL answer goes on over the JSON API, and the other way round.
    String cursor = changes.get("cursor").asText();
    JsonNode restRest = rest("/v1/changes?topic=gh/q&since=" + Http.enc(cursor));
    assertThat(restRest.get("events")).extracting(e -> e.get("offset").asLong()).containsExactly(4L, 5L);
    JsonNode gqlRest = data("query($c: String) { changes(topic: \"gh/q\", since: $c, mode: NOTIFY) { cursor events { offset data } } }",
        Map.of("c", restChanges.get("events").get(3 - 1).get("cursor").asText())).get("changes");
    assertThat(gqlRest.get("events")).extracting(e -> e.get("offset").asLong()).containsExactly(4L, 5L);
    assertThat(gqlRest.get("events")).allSatisfy(e -> assertThat(e.get("data").isNull()).isTrue());
    assertThat(gqlRest.get("cursor")).isEqualTo(restRest.get("cursor"));

    JsonNode topics = data("{ topics(prefix: \"gh/q\") { topic cursor first_offset last_offset keys last_event_time } }", null)
        .get("topics");
    assertThat(topics).hasSize(1);
    assertThat(topics.get(0)).isEqualTo(rest("/v1/topics?prefix=gh/q").get("topics").get(0));
  }

  @Test
  void aPublishMutationIsVisibleOverTheJsonApiWithTheSameCursors() throws Exception {
    String mutation = "mutation($events: [EventInput!]!) { publish(topic: \"gh/m\", events: $events) { topic cursor events { id offset cursor duplicate } } }";
    Map<String, Object> vars = Map.of("events", List.of(Map.of("type", "put", "key", "k", "data", Map.of("deep", List.of(1, "two", true))),
        Map.of("id", "once", "data", 12.5)));
    JsonNode result = data(mutation, vars).get("publish");
    JsonNode page = rest("/v1/changes?topic=gh/m");
    assertThat(result.get("cursor")).isEqualTo(page.get("cursor"));
    assertThat(result.get("events").get(0).get("cursor")).isEqualTo(page.get("events").get(0).get("cursor"));
    assertThat(result.get("events").get(1).get("id").asText()).isEqualTo("once");
    assertThat(page.get("events").get(0).get("data").toString()).isEqualTo("{\"deep\":[1,\"two\",true]}");
    assertThat(page.get("events").get(1).get("data").asDouble()).isEqualTo(12.5);

    // Literals in the query work as variables do, and an id already appended is a duplicate.
    JsonNode again = data("mutation { publish(topic: \"gh/m\", events: [{id: \"once\", data: {a: [1, null]}}]) { events { duplicate offset } } }",
        null).get("publish");
    assertThat(again.get("events").get(0).get("duplicate").asBoolean()).isTrue();
    assertThat(rest("/v1/changes?topic=gh/m").get("events")).hasSize(2);
    data("mutation { publish(topic: \"gh/m\", events: [{data: {a: [1, null], b: \"x\"}}]) { cursor } }", null);
    assertThat(rest("/v1/changes?topic=gh/m").get("events").get(2).get("data").toString()).isEqualTo("{\"a\":[1,null],\"b\":\"x\"}");
  }

  @Test
  void getRunsQueriesAndRefusesMutations() throws Exception {
    publish("gh/get", "{\"data\":1}");
    Http.Reply r = http.get("/v1/graphql?query=" + Http.enc("query Q($t: String!) { changes(topic: $t) { events { offset } } }")
        + "&operationName=Q&variables=" + Http.enc("{\"t\":\"gh/get\"}"), "Authorization", "Bearer " + TOKEN);
    assertThat(r.status()).as("%s", r).isEqualTo(200);
    assertThat(r.json().at("/data/changes/events/0/offset").asLong()).isEqualTo(1);

    Http.Reply m = http.get("/v1/graphql?query=" + Http.enc("mutation { publish(topic: \"gh/get\", events: [{data: 2}]) { cursor } }"),
        "Authorization", "Bearer " + TOKEN);
    assertThat(m.status()).as("%s", m).isEqualTo(405);
    assertThat(m.header("Allow")).isEqualTo("POST");
    assertThat(m.json().at("/errors/0/extensions/tidings_code").asText()).isEqualTo("method_not_allowed");
    assertThat(rest("/v1/changes?topic=gh/get").get("events")).hasSize(1);

    JsonNode sub = error(TOKEN, "subscription { events(topics: [\"gh/get\"]) { cursor } }", null);
    assertThat(sub.at("/extensions/code").asText()).isEqualTo("BAD_USER_INPUT");
    assertThat(sub.get("message").asText()).contains("WebSocket");
  }

  @Test
  void badInputIsAClearErrorThatChangesNothing() throws Exception {
    JsonNode topic = error(TOKEN, "{ changes(topic: \"gh//bad\") { cursor } }", null);
    assertThat(topic.at("/extensions/code").asText()).isEqualTo("BAD_USER_INPUT");
    assertThat(topic.at("/extensions/tidings_code").asText()).isEqualTo("invalid_topic");
    assertThat(topic.at("/extensions/status").asInt()).isEqualTo(400);
    assertThat(topic.get("path").get(0).asText()).isEqualTo("changes");

    assertThat(error(TOKEN, "{ changes(topic: \"gh/c\", since: \"no cursor\") { cursor } }", null)
        .at("/extensions/tidings_code").asText()).isEqualTo("invalid_cursor");
    assertThat(error(TOKEN, "{ changes(topic: \"gh/c\", limit: 100000) { cursor } }", null)
        .at("/extensions/tidings_code").asText()).isEqualTo("invalid_parameter");

    JsonNode first = publish("gh/trim/e", "[{\"data\":1},{\"data\":2},{\"data\":3},{\"data\":4}]");
    String old = first.get("events").get(0).get("cursor").asText();
    long deadline = System.nanoTime() + 30_000_000_000L;
    JsonNode expired;
    do {
      assertThat(System.nanoTime()).as("retention trims the topic").isLessThan(deadline);
      Thread.sleep(50);
      Http.Reply r = post(TOKEN, "query($c: String) { changes(topic: \"gh/trim/e\", since: $c) { cursor } }", Map.of("c", old));
      expired = r.json().path("errors").path(0);
    } while (expired.isMissingNode());
    assertThat(expired.at("/extensions/code").asText()).isEqualTo("CURSOR_EXPIRED");
    assertThat(expired.at("/extensions/tidings_code").asText()).isEqualTo("cursor_expired");
    assertThat(expired.at("/extensions/status").asInt()).isEqualTo(410);
    assertThat(expired.at("/extensions/state_url").asText()).contains("/v1/state");

    JsonNode event = error(TOKEN, "mutation { publish(topic: \"gh/bad\", events: [{type: \"put\", data: 1}]) { cursor } }", null);
    assertThat(event.at("/extensions/tidings_code").asText()).isEqualTo("invalid_event");
    assertThat(event.get("message").asText()).contains("needs a key");
    JsonNode reserved = error(TOKEN, "mutation { publish(topic: \"gh/bad\", events: [{type: \"reset\"}]) { cursor } }", null);
    assertThat(reserved.at("/extensions/tidings_code").asText()).isEqualTo("invalid_event");
    assertThat(http.get("/v1/topics?prefix=gh/bad", "Authorization", "Bearer " + TOKEN).json().get("topics")).isEmpty();

    JsonNode syntax = error(TOKEN, "{ changes(topic: ", null);
    assertThat(syntax.at("/extensions/code").asText()).isEqualTo("GRAPHQL_PARSE_FAILED");
    JsonNode unknown = error(TOKEN, "{ nothing }", null);
    assertThat(unknown.at("/extensions/code").asText()).isEqualTo("GRAPHQL_VALIDATION_FAILED");

    Http.Reply notJson = http.method("POST", "/v1/graphql", "{query", "Content-Type", "application/json", "Authorization", "Bearer " + TOKEN);
    assertThat(notJson.status()).isEqualTo(400);
    assertThat(notJson.json().at("/errors/0/extensions/tidings_code").asText()).isEqualTo("invalid_json");
    Http.Reply noQuery = http.method("POST", "/v1/graphql", "{\"variables\":{}}", "Content-Type", "application/json");
    assertThat(noQuery.status()).isEqualTo(400);
    Http.Reply badVariables = http.method("POST", "/v1/graphql", "{\"query\":\"{ topics { topic } }\",\"variables\":[1]}",
        "Content-Type", "application/json");
    assertThat(badVariables.status()).isEqualTo(400);
    Http.Reply text = http.method("POST", "/v1/graphql", "{ topics { topic } }", "Content-Type", "text/plain");
    assertThat(text.status()).isEqualTo(415);
    Http.Reply huge = http.method("POST", "/v1/graphql", "{\"query\":\"" + "x".repeat(2 << 20) + "\"}",
        "Content-Type", "application/json");
    assertThat(huge.status()).isEqualTo(413);
    Http.Reply put = http.method("PUT", "/v1/graphql", "{}", "Content-Type", "application/json");
    assertThat(put.status()).isEqualTo(405);
  }

  @Test
  void credentialsAndGrantsAreCheckedPerTopic() throws Exception {
    JsonNode anonymous = error(null, "{ changes(topic: \"gh/private\") { cursor } }", null);
    assertThat(anonymous.at("/extensions/code").asText()).isEqualTo("UNAUTHENTICATED");
    assertThat(anonymous.at("/extensions/status").asInt()).isEqualTo(401);
    JsonNode forbidden = error(READER, "{ state(topic: \"gh/private\") { cursor } }", null);
    assertThat(forbidden.at("/extensions/code").asText()).isEqualTo("FORBIDDEN");
    assertThat(forbidden.at("/extensions/tidings_code").asText()).isEqualTo("forbidden");
    JsonNode publishForbidden = error(READER, "mutation { publish(topic: \"other/x\", events: [{data: 1}]) { cursor } }", null);
    assertThat(publishForbidden.at("/extensions/code").asText()).isEqualTo("FORBIDDEN");

    Http.Reply open = post(null, "{ changes(topic: \"public/news\") { cursor events { offset } } }", null);
    assertThat(open.status()).isEqualTo(200);
    assertThat(open.json().has("errors")).as("%s", open.body()).isFalse();

    Http.Reply badToken = post("not-a-token", "{ topics { topic } }", null);
    assertThat(badToken.status()).isEqualTo(401);

    // Topics the caller may not read are left out of the listing.
    publish("gh/listed", "{\"data\":1}");
    Http.Reply listing = post(READER, "{ topics(prefix: \"gh/\") { topic } }", null);
    assertThat(listing.json().at("/data/topics")).isEmpty();
  }

  @Test
  void theSchemaIsServedVerbatimAndCacheable() throws Exception {
    Http.Reply r = http.get("/v1/graphql/schema.graphql");
    assertThat(r.status()).isEqualTo(200);
    assertThat(r.header("Content-Type")).isEqualTo("text/plain; charset=utf-8");
    String file = Files.readString(NodeScript.repoRoot().resolve(
        "server/src/main/resources/io/tidings/server/graphql/schema.graphql"));
    assertThat(r.body()).isEqualTo(file);
    TypeDefinitionRegistry types = new SchemaParser().parse(r.body());
    assertThat(types.getType("Subscription")).isPresent();
    assertThat(types.scalars()).containsKeys("JSON", "Long");
    String etag = r.header("ETag");
    assertThat(etag).startsWith("\"");
    assertThat(r.header("Cache-Control")).contains("max-age");
    Http.Reply again = http.get("/v1/graphql/schema.graphql", "If-None-Match", etag);
    assertThat(again.status()).isEqualTo(304);
    assertThat(http.method("POST", "/v1/graphql/schema.graphql", "", "Content-Type", "application/json").status())
        .isEqualTo(405);
  }

  @Test
  void eachRootFieldSpendsARateLimitTokenOfItsKind() throws Exception {
    String config = "limits: { rate: { polls_per_second: 0.2, publish_per_second: 0.2 } }\n";
    try (TidingsProcess limited = TidingsProcess.builder().name("graphql-rate").memory().config(config).start()) {
      Http h = new Http(limited);
      String query = "{\"query\":\"{ state(topic: \\\"r/a\\\") { cursor } }\"}";
      String mutation = "{\"query\":\"mutation { publish(topic: \\\"r/a\\\", events: [{data: 1}]) { cursor } }\"}";
      Http.Reply first = h.method("POST", "/v1/graphql", query, "Content-Type", "application/json");
      assertThat(first.json().has("errors")).as("%s", first.body()).isFalse();
      Http.Reply second = h.method("POST", "/v1/graphql", query, "Content-Type", "application/json");
      JsonNode refused = second.json().at("/errors/0");
      assertThat(refused.at("/extensions/code").asText()).as("%s", second.body()).isEqualTo("RATE_LIMITED");
      assertThat(refused.at("/extensions/retry_after").asInt()).isPositive();
      // Publishing has a bucket of its own.
      assertThat(h.method("POST", "/v1/graphql", mutation, "Content-Type", "application/json").json().has("errors")).isFalse();
      Http.Reply again = h.method("POST", "/v1/graphql", mutation, "Content-Type", "application/json");
      assertThat(again.json().at("/errors/0/extensions/code").asText()).isEqualTo("RATE_LIMITED");
      assertThat(again.json().at("/data").isNull()).isTrue();
    }
  }

  @Test
  void turnedOffItAnswers403TransportDisabled() throws Exception {
    try (TidingsProcess off = TidingsProcess.builder().name("graphql-off").memory()
        .config("push: { graphql: { enabled: false } }\n").start()) {
      Http.Reply r = new Http(off).method("POST", "/v1/graphql", "{\"query\":\"{ topics { topic } }\"}",
          "Content-Type", "application/json");
      assertThat(r.status()).as("%s", r).isEqualTo(403);
      assertThat(r.json().at("/error/code").asText()).isEqualTo("transport_disabled");
    }
  }

  @Test
  void introspectionWorksAndDeeperQueriesAreRefused() throws Exception {
    JsonNode schema = data("""
        query IntrospectionQuery { __schema { queryType { name } types { kind name fields(includeDeprecated: true) {
          name args { name type { ...TypeRef } } type { ...TypeRef } } } } }
        fragment TypeRef on __Type { kind name ofType { kind name ofType { kind name ofType { kind name ofType {
          kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } } }
        """, null).get("__schema");
    assertThat(schema.at("/queryType/name").asText()).isEqualTo("Query");

    StringBuilder deep = new StringBuilder("{ __schema { types { fields { type ");
    for (int i = 0; i < 14; i++) {
      deep.append("{ ofType ");
    }
    deep.append("{ name }").append(" }".repeat(14)).append(" } } } }");
    JsonNode tooDeep = error(TOKEN, deep.toString(), null);
    assertThat(tooDeep.get("message").asText()).containsIgnoringCase("depth");
  }
}
