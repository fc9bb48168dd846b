package io.tidings.server.pull;

import io.tidings.core.Topics;
import io.tidings.server.auth.Authenticator;
import io.tidings.server.auth.Principal;
import io.tidings.server.config.TidingsConfig;
import io.tidings.server.http.ApiException;
import io.tidings.server.http.EarlyHints;
import io.tidings.server.http.HttpApi;
import io.tidings.server.http.Params;
import io.tidings.server.limits.Limits;
import io.tidings.server.ops.Metrics;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.http.HttpVersion;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.BiConsumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The companions of a state poll: {@code GET /v1/state?topic=A&push=B,C} (or {@code &bundle=name}
 * from {@code pull.push_bundles}) also delivers the state of B and C, so that a page showing several
 * topics gets them all in one round trip. Over HTTP/2 their responses are pushed (PUSH_PROMISE,
 * {@code pull.server_push}); to every client but an HTTP/1.0 one, a {@code 103 Early Hints} names
 * them first ({@code pull.early_hints}), for browsers, which no longer accept pushes.
 *
 * <p>A companion the principal may not read is left out silently: the poll itself is not at fault.
 * A pushed response counts as a poll of its topic (rate and pace limits); one that the limits refuse
 * is not pushed, and the client fetches it itself when it wants it.
 */
public final class StatePush {
  private static final Logger LOG = LoggerFactory.getLogger(StatePush.class);
  /** The query parameter listing topics to push, comma-separated (it may also be repeated). */
  public static final String PUSH = "push";
  /** The query parameter naming a bundle of {@code pull.push_bundles}. */
  public static final String BUNDLE = "bundle";
  private static final String PATH = "/v1/state?topic=";
  /** The pace identity HttpApi gives a direct poll without {@code after_key} and {@code If-None-Match}. */
  private static final String DIRECT_POLL = "\nnull";

  private final boolean serverPush;
  private final boolean earlyHints;
  private final int maxTopics;
  private final Map<String, List<String>> bundles;
  private final Authenticator auth;
  private final Limits limits;
  private final Metrics metrics;

  public StatePush(TidingsConfig.Pull config, Authenticator auth, Limits limits, Metrics metrics) {
    this.serverPush = config.serverPush;
    this.earlyHints = config.earlyHints;
    this.maxTopics = config.maxPushTopics;
    this.bundles = Map.copyOf(config.pushBundles);
    this.auth = auth;
    this.limits = limits;
    this.metrics = metrics;
  }

  /** The path of {@code topic}'s state, as a direct poll would ask for it. */
  public static String path(String topic) {
    return PATH + topic;
  }

  /**
   * The topics {@code push} and {@code bundle} name besides {@code main}, each once, in the order
   * given (the bundle's after the list's); empty when neither is given.
   *
   * @throws ApiException {@code 400 invalid_topic} for a name that is not a topic,
   *     {@code 400 invalid_parameter} for an unknown bundle or more than {@code pull.max_push_topics}
   */
  public List<String> companions(Params params, String main) {
    List<String> lists = params.all(PUSH);
    String bundle = params.single(BUNDLE);
    if (lists.isEmpty() && bundle == null) {
      return List.of();
    }
    Set<String> topics = new LinkedHashSet<>();
    for (String list : lists) {
      for (String name : list.split(",", -1)) {
        String problem = Topics.problem(name);
        if (problem != null) {
          throw ApiException.badRequest("invalid_topic", "'push': " + (name.isEmpty() ? "an empty topic name" : problem));
        }
        topics.add(name);
        checkCount(topics);
      }
    }
    if (bundle != null) {
      List<String> named = bundles.get(bundle);
      if (named == null) {
        throw ApiException.badRequest("invalid_parameter", "'bundle': no bundle named '" + bundle
            + "' is configured (pull.push_bundles)");
      }
      topics.addAll(named);
      checkCount(topics);
    }
    topics.remove(main);
    return List.copyOf(topics);
  }

  private void checkCount(Set<String> topics) {
    if (topics.size() > maxTopics) {
      throw ApiException.badRequest("invalid_parameter", "'push' and 'bundle' may name at most " + maxTopics + " topics");
    }
  }

  /**
   * Hints and pushes those of {@code companions} that {@code principal} may read. Call on the
   * request's event loop after the poll itself has been accepted and before its response is
   * written: a push promise must precede the end of the response it belongs to.
   *
   * @param serve answers a pushed request for a topic exactly as a direct poll of it is answered
   */
  public void offer(HttpServerRequest request, Principal principal, List<String> companions,
      BiConsumer<HttpServerResponse, String> serve) {
    if (companions.isEmpty() || request.method() != HttpMethod.GET) {
      return;
    }
    List<String> readable = new ArrayList<>(companions.size());
    for (String topic : companions) {
      if (principal.maySubscribe(topic)) {
        readable.add(topic);
      }
    }
    if (earlyHints) {
      EarlyHints.send(request, hinted(readable));
    }
    if (serverPush && pushAccepted(request)) {
      String key = limits.checksRequests() ? limits.key(principal, HttpApi.host(request)) : null;
      for (String topic : readable) {
        if (key == null || allowedByLimits(key, topic)) {
          push(request, topic, serve);
        }
      }
    }
  }

  /**
   * The URLs worth hinting: a browser preloads a hint without the page's bearer token, so only a
   * topic anyone may read would be answered with its state rather than a {@code 401}.
   */
  private List<String> hinted(List<String> readable) {
    List<String> urls = new ArrayList<>(readable.size());
    for (String topic : readable) {
      if (auth.readableByAnyone(topic)) {
        urls.add(path(topic));
      }
    }
    return urls;
  }

  /** HTTP/2, and the client has not turned pushes off ({@code SETTINGS_ENABLE_PUSH = 0}). */
  private static boolean pushAccepted(HttpServerRequest request) {
    return request.version() == HttpVersion.HTTP_2 && request.connection().remoteSettings().isPushEnabled();
  }

  /** Spends a poll token and checks the pace as a direct poll of {@code topic} would; false to skip it. */
  private boolean allowedByLimits(String key, String topic) {
    if (limits.take(Limits.Kind.POLL, key) > 0) {
      return false;
    }
    try {
      limits.checkPollPace(key, "/v1/state", topic, DIRECT_POLL);
      return true;
    } catch (ApiException paced) {
      return false;
    }
  }

  private void push(HttpServerRequest request, String topic, BiConsumer<HttpServerResponse, String> serve) {
    String path = path(topic);
    try {
      // The promised request carries the original's :authority and :scheme (Vert.x's default).
      request.response().push(HttpMethod.GET, path).onComplete(ar -> {
        if (ar.failed()) {
          LOG.debug("push of {} not sent: {}", path, ar.cause().toString());
          return;
        }
        HttpServerResponse pushed = ar.result();
        pushed.endHandler(v -> {
          metrics.request("/v1/state", pushed.getStatusCode());
          metrics.poll("state", pushed.getStatusCode());
        });
        serve.accept(pushed, topic);
      });
    } catch (IllegalStateException e) {
      // The stream has been reset or closed meanwhile: there is nothing to attach a promise to.
      LOG.debug("push of {} not sent: {}", path, e.toString());
    }
  }
}
