package io.tidings.server.outbound;

import java.net.InetAddress;
import java.net.URI;

/**
 * A checked target URL and the one address {@link OutboundClient} connects to for it. The address was
 * judged by {@link TargetGuard#pin}; the URL still names the host, for the {@code Host} header, TLS
 * server name indication and certificate checks.
 *
 * @param uri the normalized URL ({@link TargetGuard#check})
 * @param address the address to connect to
 */
public record PinnedTarget(URI uri, InetAddress address) {
  /**
   * The URL's host as written in it, lower-cased: a name, a dotted-decimal IPv4 address, or an IPv6
   * address in brackets ({@code [2606:4700::1]}).
   */
  public String host() {
    String authority = uri.getRawAuthority();
    int end = authority.startsWith("[") ? authority.indexOf(']') + 1 : authority.lastIndexOf(':');
    return end <= 0 || end > authority.length() ? authority : authority.substring(0, end);
  }

  /** The URL's port, or the scheme's default: 443 for https, 80 for http. */
  public int port() {
    String authority = uri.getRawAuthority();
    int colon = authority.lastIndexOf(':');
    if (colon > authority.lastIndexOf(']') && colon < authority.length() - 1) {
      return Integer.parseInt(authority.substring(colon + 1));
    }
    return tls() ? 443 : 80;
  }

  /** Whether the URL is https. */
  public boolean tls() {
    return "https".equalsIgnoreCase(uri.getScheme());
  }

  /** The request target: the raw path ({@code /} when empty) and query. */
  public String pathAndQuery() {
    String path = uri.getRawPath();
    if (path == null || path.isEmpty()) {
      path = "/";
    }
    String query = uri.getRawQuery();
    return query == null ? path : path + "?" + query;
  }
}
