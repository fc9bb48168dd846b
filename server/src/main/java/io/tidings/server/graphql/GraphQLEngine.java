package io.tidings.server.graphql;

import graphql.ExecutionInput;
import graphql.ExecutionResult;
import graphql.GraphQL;
import graphql.analysis.MaxQueryComplexityInstrumentation;
import graphql.analysis.MaxQueryDepthInstrumentation;
import graphql.execution.AsyncExecutionStrategy;
import graphql.execution.AsyncSerialExecutionStrategy;
import graphql.execution.SubscriptionExecutionStrategy;
import graphql.execution.instrumentation.ChainedInstrumentation;
import graphql.schema.GraphQLSchema;
import graphql.schema.idl.RuntimeWiring;
import graphql.schema.idl.SchemaGenerator;
import graphql.schema.idl.SchemaParser;
import graphql.schema.idl.TypeRuntimeWiring;
import io.tidings.core.Engine;
import io.tidings.server.config.TidingsConfig;
import io.tidings.server.limits.Limits;
import io.tidings.server.ops.Metrics;
import io.tidings.server.publish.EventParser;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.LongAdder;

/**
 * The executable schema: {@code schema.graphql} wired to {@link Resolvers}, with the depth and
 * complexity limits of {@code graphql.max_depth} and {@code graphql.max_complexity}. One for the
 * server, shared by every event loop (graphql-java is thread-safe; what differs per request travels
 * in the operation's context as a {@link Caller}).
 */
public final class GraphQLEngine {
  private final GraphQL graphql;
  private final GraphQLStats stats;
  private final TidingsConfig config;

  /** @param dropped counts events a subscription had buffered when it ended ({@code tidings_push_dropped_total}) */
  public GraphQLEngine(Engine engine, EventParser parser, Limits limits, Metrics metrics, TidingsConfig config,
      GraphQLStats stats, LongAdder dropped) {
    this.stats = stats;
    this.config = config;
    Resolvers resolvers = new Resolvers(engine, parser, limits, metrics, config, dropped);
    RuntimeWiring wiring = RuntimeWiring.newRuntimeWiring()
        .scalar(GraphQLScalars.JSON)
        .scalar(GraphQLScalars.LONG)
        .type(TypeRuntimeWiring.newTypeWiring("Query")
            .dataFetcher("state", resolvers.state())
            .dataFetcher("changes", resolvers.changes())
            .dataFetcher("topics", resolvers.topics()))
        .type(TypeRuntimeWiring.newTypeWiring("Mutation")
            .dataFetcher("publish", resolvers.publish()))
        .type(TypeRuntimeWiring.newTypeWiring("Subscription")
            .dataFetcher("events", resolvers.events()))
        .type(TypeRuntimeWiring.newTypeWiring("Event")
            .dataFetcher("stream_cursor", env -> ((EventView) env.getSource()).streamCursor()))
        .build();
    GraphQLSchema schema = new SchemaGenerator().makeExecutableSchema(new SchemaParser().parse(GraphQLSchemaFile.TEXT),
        wiring);
    GraphQLErrors errors = new GraphQLErrors();
    TidingsConfig.Graphql limitsConfig = config.push.graphql;
    this.graphql = GraphQL.newGraphQL(schema)
        .queryExecutionStrategy(new AsyncExecutionStrategy(errors))
        .mutationExecutionStrategy(new AsyncSerialExecutionStrategy(errors))
        .subscriptionExecutionStrategy(new SubscriptionExecutionStrategy(errors))
        .instrumentation(new ChainedInstrumentation(List.of(
            new MaxQueryDepthInstrumentation(limitsConfig.maxDepth),
            new MaxQueryComplexityInstrumentation(limitsConfig.maxComplexity))))
        .build();
  }

  /** Runs an operation for {@code caller}; the future may complete on another thread. */
  CompletableFuture<ExecutionResult> execute(String query, String operationName, Map<String, Object> variables,
      Caller caller) {
    stats.operations.increment();
    ExecutionInput input = ExecutionInput.newExecutionInput()
        .query(query)
        .operationName(operationName)
        .variables(variables == null ? Map.of() : variables)
        .graphQLContext(Map.of(Caller.class, caller, SubscriptionExecutionStrategy.KEEP_SUBSCRIPTION_EVENTS_ORDERED, true))
        .build();
    return graphql.executeAsync(input);
  }

  GraphQLStats stats() {
    return stats;
  }

  TidingsConfig config() {
    return config;
  }
}
