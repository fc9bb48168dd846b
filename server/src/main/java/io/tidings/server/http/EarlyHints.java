package io.tidings.server.http;

import io.vertx.core.MultiMap;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpVersion;
import java.util.List;

/**
 * {@code 103 Early Hints} (RFC 8297): tells a client, before the final response, which resources it
 * will want next, so that a browser starts fetching them while the server still works on this one.
 *
 * <p>Each resource is one {@code Link: <url>; rel=preload; as=fetch; crossorigin} field. Browsers
 * only reuse a preload for a later {@code fetch()} when both were made in the same mode:
 * {@code as=fetch} makes the preload a fetch, and {@code crossorigin} gives it the CORS mode that
 * every {@code fetch()} has (without it the preload is made in no-cors mode and then thrown away).
 */
public final class EarlyHints {
  // Lower case: HTTP/2 refuses upper-case field names, and HTTP/1.1 does not mind.
  private static final CharSequence LINK = io.vertx.core.http.HttpHeaders.createOptimized("link");

  private EarlyHints() {}

  /** The {@code Link} field value that asks a browser to preload {@code url} for a later {@code fetch()}. */
  public static String preload(String url) {
    return "<" + url + ">; rel=preload; as=fetch; crossorigin";
  }

  /**
   * Whether {@code request} may get an interim response: not over HTTP/1.0, whose clients do not
   * know 1xx responses (RFC 9110 section 15.2 forbids sending them one).
   */
  public static boolean allowed(HttpServerRequest request) {
    return request.version() != HttpVersion.HTTP_1_0;
  }

  /**
   * Sends {@code 103 Early Hints} with a preload link per URL of {@code urls}, unless there are none
   * or the request may not get one. A hint is advice: if it cannot be written, the final response
   * still follows as usual.
   */
  public static void send(HttpServerRequest request, List<String> urls) {
    if (urls.isEmpty() || !allowed(request) || request.response().headWritten()) {
      return;
    }
    MultiMap headers = MultiMap.caseInsensitiveMultiMap();
    for (String url : urls) {
      headers.add(LINK, preload(url));
    }
    request.response().writeEarlyHints(headers);
  }
}
