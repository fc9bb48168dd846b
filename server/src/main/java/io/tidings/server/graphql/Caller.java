package io.tidings.server.graphql;

import io.tidings.server.auth.Principal;
import io.tidings.server.pull.ChangeReader;
import io.tidings.server.push.PushLoop;

/**
 * Who runs an operation and from where: kept in the operation's {@code GraphQLContext} for the
 * resolvers. Everything here belongs to the event loop the request or connection lives on.
 *
 * @param limitKey whose rate-limit buckets the operation spends ({@code Limits.key})
 * @param connection the WebSocket connection running a subscription; null over HTTP
 */
record Caller(Principal principal, String host, String limitKey, PushLoop loop, ChangeReader reader,
    Connection connection) {

  /** What a subscription needs from the connection that carries it. */
  interface Connection {
    /** A subscription's buffer overflowed: the connection ends as a slow consumer. */
    void slowConsumer();

    /** The room for events waiting for their subscribers, shared by the connection's subscriptions. */
    BufferBudget budget();
  }
}
