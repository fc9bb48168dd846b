package io.tidings.bench.push;

import java.net.URI;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;

/**
 * What differs between the servers the generator can load: the URLs of publishing and
 * subscribing, the publish body, and whether a WebSocket subscriber must ask for its topic.
 *
 * <ul>
 *   <li>tidings: {@code POST /v1/events?topic=T} with {@code {"data":<message>}};
 *       {@code GET /v1/sse?topic=T}; {@code GET /v1/ws} then {@code {"op":"subscribe",…}}.
 *   <li>nchan: {@code POST <pub>?id=T} with the raw message; {@code GET <sse>?id=T} and
 *       {@code <ws>?id=T} (nchan_subscriber locations; the message body is delivered as is).
 * </ul>
 */
final class Dialect {
  final String target;
  final URI base;
  final String prefix;
  private final String pubPath;
  private final String wsPath;
  private final String ssePath;

  Dialect(String target, URI base, String pubPath, String wsPath, String ssePath) {
    if (!target.equals("tidings") && !target.equals("nchan")) {
      throw new IllegalArgumentException("--target must be tidings or nchan, not " + target);
    }
    if (!"http".equals(base.getScheme())) {
      throw new IllegalArgumentException("only http:// URLs are supported, not " + base);
    }
    this.target = target;
    this.base = base;
    String p = base.getRawPath() == null ? "" : base.getRawPath();
    this.prefix = p.endsWith("/") ? p.substring(0, p.length() - 1) : p;
    this.pubPath = pubPath;
    this.wsPath = wsPath;
    this.ssePath = ssePath;
  }

  boolean nchan() {
    return target.equals("nchan");
  }

  String host() {
    return base.getHost();
  }

  int port() {
    return base.getPort() > 0 ? base.getPort() : 80;
  }

  String hostHeader() {
    return base.getPort() > 0 ? base.getHost() + ":" + base.getPort() : base.getHost();
  }

  static String enc(String s) {
    return URLEncoder.encode(s, StandardCharsets.UTF_8);
  }

  String publishUri(String topic) {
    return nchan() ? prefix + pubPath + "?id=" + enc(topic) : prefix + "/v1/events?topic=" + enc(topic);
  }

  String publishBody(String message) {
    return nchan() ? message : "{\"data\":" + message + "}";
  }

  String wsUri(String topic) {
    String path = nchan() ? prefix + wsPath + "?id=" + enc(topic) : prefix + "/v1/ws";
    return "ws://" + hostHeader() + path;
  }

  String sseUri(String topic) {
    return nchan() ? prefix + ssePath + "?id=" + enc(topic) : prefix + "/v1/sse?topic=" + enc(topic);
  }

  /** Tidings' WebSocket needs a subscribe frame; Nchan's subscribes by URL. */
  boolean wsSubscribeFrame() {
    return !nchan();
  }

  String subscribeFrame(long id, String topic) {
    return "{\"op\":\"subscribe\",\"id\":" + id + ",\"topic\":\"" + topic + "\"}";
  }
}
