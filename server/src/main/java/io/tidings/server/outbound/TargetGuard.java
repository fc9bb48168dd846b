package io.tidings.server.outbound;

import java.net.IDN;
import java.net.InetAddress;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.regex.Pattern;

/**
 * Checks webhook and Web Push target URLs, so that users cannot make the server POST to itself, to
 * its network's private services or to cloud metadata endpoints (SSRF). Thread-safe.
 *
 * <p>Two steps: {@link #check} at registration, without DNS; {@link #pin} before every delivery,
 * which resolves the name and returns the one address to connect to. Connecting only to that address
 * (see {@link OutboundClient}) is what defeats DNS rebinding: a name that resolved to a public address
 * when checked cannot make the connection go elsewhere.
 *
 * <p>Forbidden unless allow-listed: unspecified, loopback, private, link-local, site-local, shared
 * (CGNAT), multicast, broadcast and reserved, documentation and benchmarking addresses, in IPv4 and
 * IPv6; IPv6 addresses that embed an IPv4 address (mapped, compatible, NAT64, 6to4) are judged by it;
 * Teredo and every IPv6 address outside global unicast (2000::/3) are refused.
 */
public final class TargetGuard {
  private static final Pattern SCHEME = Pattern.compile("^[A-Za-z][A-Za-z0-9+.-]*:");
  private static final Pattern LABEL = Pattern.compile("[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?");

  private final List<Cidr> allowTargets;
  private final Resolver resolver;
  // pin() runs before every delivery; a URL's parse depends on nothing but its text and the allow-list.
  private final java.util.concurrent.ConcurrentHashMap<String, Target> parsed = new java.util.concurrent.ConcurrentHashMap<>();
  private static final int MAX_PARSED = 10_000;

  /**
   * @param allowTargets CIDRs ({@code "127.0.0.1/32"}, {@code "10.0.0.0/8"}, {@code "::1/128"}; a bare
   *     address means /32 or /128) exempt from the guard, for deployments that deliver to their own
   *     network on purpose; http:// is allowed to them too
   * @param resolver how names are resolved
   * @throws IllegalArgumentException naming the first entry that is not a CIDR
   */
  public TargetGuard(List<String> allowTargets, Resolver resolver) {
    List<Cidr> cidrs = new ArrayList<>();
    for (String entry : allowTargets) {
      cidrs.add(Cidr.parse(entry));
    }
    this.allowTargets = List.copyOf(cidrs);
    this.resolver = resolver;
  }

  /**
   * What can be checked without DNS, at registration: an absolute http or https URL with a host, no
   * user info, no fragment, a port in 1-65535. An IP-literal host (including the legacy IPv4 spellings
   * browsers and curl accept: {@code 0x7f.1}, {@code 2130706433}, {@code 017700000001}, {@code 127.1})
   * is refused when forbidden and not allow-listed. {@code http://} is accepted only for an
   * allow-listed IP literal or a name (a name is decided at {@link #pin}).
   *
   * @return the normalized URL: scheme and host lower-cased, international names in ASCII, an IPv4
   *     literal in dotted decimal, a default port dropped
   */
  public URI check(String url) throws TargetRefusedException {
    return parse(url).uri;
  }

  /**
   * Checks {@code uri} again as {@link #check} does, resolves its host (no DNS for an IP literal) and
   * judges every address it resolves to: refuses when any is forbidden and not allow-listed, or when
   * the URL is http:// and the address is not allow-listed. Completes with the address to connect to,
   * or exceptionally with {@link TargetRefusedException}. Never blocks the caller: resolution runs
   * wherever the {@link Resolver} runs it.
   *
   * <p>Call it before every delivery, not once per registration: DNS answers change.
   */
  public CompletionStage<PinnedTarget> pin(URI uri) {
    String text = uri.toString();
    Target target = parsed.get(text);
    if (target == null) {
      try {
        target = parse(text);
      } catch (TargetRefusedException e) {
        return CompletableFuture.failedFuture(e);
      }
      if (parsed.size() >= MAX_PARSED) {
        parsed.clear();
      }
      parsed.put(text, target);
    }
    Target checked = target;
    if (checked.literal != null) {
      // check() has already judged it.
      return CompletableFuture.completedFuture(
          new PinnedTarget(checked.uri, IpAddresses.address(IpAddresses.unmap(checked.literal))));
    }
    CompletionStage<List<InetAddress>> resolved;
    try {
      resolved = resolver.resolve(checked.host);
    } catch (RuntimeException e) {
      resolved = CompletableFuture.failedFuture(e);
    }
    return resolved.handle((addresses, failure) -> {
      if (failure != null || addresses == null || addresses.isEmpty()) {
        throw new CompletionException(new TargetRefusedException("unresolvable",
            "does not resolve (" + describe(failure, checked.host) + ")"));
      }
      // Every address, not just the one connected to: a name with one forbidden address is refused
      // whatever the order of the answer, which the name's owner controls.
      for (InetAddress address : addresses) {
        byte[] bytes = IpAddresses.bytes(address);
        IpAddresses.Kind kind = allowed(bytes) ? null : IpAddresses.forbidden(bytes);
        if (kind != null) {
          throw new CompletionException(refused(kind, bytes, "resolves to "));
        }
      }
      if (!checked.tls) {
        for (InetAddress address : addresses) {
          if (!allowed(IpAddresses.bytes(address))) {
            throw new CompletionException(httpsRequired());
          }
        }
      }
      return new PinnedTarget(checked.uri, IpAddresses.bare(addresses.get(0)));
    });
  }

  /** Whether {@code address} is in an allow-listed CIDR. */
  public boolean allowListed(InetAddress address) {
    return allowed(IpAddresses.bytes(address));
  }

  private boolean allowed(byte[] bytes) {
    for (Cidr cidr : allowTargets) {
      if (cidr.contains(bytes)) {
        return true;
      }
    }
    return false;
  }

  private static String describe(Throwable failure, String host) {
    Throwable cause = failure;
    while (cause instanceof CompletionException && cause.getCause() != null) {
      cause = cause.getCause();
    }
    if (cause == null || cause instanceof UnknownHostException) {
      return "no address for " + host;
    }
    return "DNS lookup of " + host + " failed";
  }

  private static TargetRefusedException refused(IpAddresses.Kind kind, byte[] bytes, String verb) {
    byte[] embedded = IpAddresses.embeddedIpv4(bytes);
    String shown = embedded == null ? IpAddresses.text(bytes)
        : IpAddresses.text(embedded) + ", embedded in " + IpAddresses.text(bytes);
    return new TargetRefusedException("private_address", verb + kind.phrase + " (" + shown + ")");
  }

  private static TargetRefusedException httpsRequired() {
    return new TargetRefusedException("https_required", "https is required");
  }

  /** A URL that passed {@link #check}: its normalized form, its host, and its IP literal if it is one. */
  private record Target(URI uri, boolean tls, String host, byte[] literal) {}

  private Target parse(String url) throws TargetRefusedException {
    if (url == null || url.isBlank()) {
      throw new TargetRefusedException("invalid_url", "a URL is required");
    }
    String s = url.strip();
    if (s.length() > 2048) {
      throw new TargetRefusedException("invalid_url", "is too long (at most 2048 characters)");
    }
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c <= 0x20 || c == 0x7f || c == '\\') {
        throw new TargetRefusedException("invalid_url", "is not a valid URL (it contains "
            + (c == '\\' ? "a backslash" : "a space or control character") + ")");
      }
    }
    var scheme = SCHEME.matcher(s);
    if (!scheme.find()) {
      throw new TargetRefusedException("relative", "must be an absolute URL (https://...)");
    }
    String name = s.substring(0, scheme.end() - 1).toLowerCase(Locale.ROOT);
    if (!name.equals("https") && !name.equals("http")) {
      throw new TargetRefusedException("scheme", "must be an https URL (not " + name + ":)");
    }
    boolean tls = name.equals("https");
    String rest = s.substring(scheme.end());
    if (!rest.startsWith("//")) {
      throw new TargetRefusedException("host", "has no host (expected " + name + "://host/...)");
    }
    rest = rest.substring(2);
    int authorityEnd = 0;
    while (authorityEnd < rest.length() && "/?#".indexOf(rest.charAt(authorityEnd)) < 0) {
      authorityEnd++;
    }
    String authority = rest.substring(0, authorityEnd);
    String pathQuery = rest.substring(authorityEnd);
    if (authority.indexOf('@') >= 0) {
      throw new TargetRefusedException("userinfo", "must not contain a user name or password");
    }
    if (pathQuery.indexOf('#') >= 0) {
      throw new TargetRefusedException("fragment", "must not contain a fragment (#...)");
    }

    String hostText;
    String portText = null;
    if (authority.startsWith("[")) {
      int close = authority.indexOf(']');
      if (close < 0) {
        throw new TargetRefusedException("host", "has an invalid host (unclosed [)");
      }
      hostText = authority.substring(1, close);
      String after = authority.substring(close + 1);
      if (!after.isEmpty()) {
        if (!after.startsWith(":")) {
          throw new TargetRefusedException("host", "has an invalid host (" + authority + ")");
        }
        portText = after.substring(1);
      }
    } else {
      int colon = authority.lastIndexOf(':');
      hostText = colon < 0 ? authority : authority.substring(0, colon);
      portText = colon < 0 ? null : authority.substring(colon + 1);
      if (hostText.indexOf(':') >= 0 || hostText.indexOf('[') >= 0 || hostText.indexOf(']') >= 0) {
        throw new TargetRefusedException("host", "has an invalid host (" + authority + ")");
      }
    }
    if (hostText.isEmpty()) {
      throw new TargetRefusedException("host", "has no host");
    }
    int port = tls ? 443 : 80;
    if (portText != null) {
      if (portText.isEmpty() || portText.length() > 5 || !portText.chars().allMatch(c -> c >= '0' && c <= '9')
          || Integer.parseInt(portText) < 1 || Integer.parseInt(portText) > 65535) {
        throw new TargetRefusedException("port", "has an invalid port (" + portText + "); ports are 1-65535");
      }
      port = Integer.parseInt(portText);
    }

    String host;
    byte[] literal;
    if (authority.startsWith("[")) {
      if (hostText.indexOf('%') >= 0) {
        throw new TargetRefusedException("zone_id", "must not contain an IPv6 zone id (" + hostText + ")");
      }
      literal = IpAddresses.parseIpv6(hostText.toLowerCase(Locale.ROOT));
      if (literal == null) {
        throw new TargetRefusedException("host", "has an invalid IPv6 address ([" + hostText + "])");
      }
      host = "[" + hostText.toLowerCase(Locale.ROOT) + "]";
    } else {
      String ascii = asciiHost(hostText);
      try {
        literal = IpAddresses.parseIpv4(ascii);
      } catch (IllegalArgumentException e) {
        throw new TargetRefusedException("host", "has an invalid host (" + hostText
            + "): it ends in a number but is not an IPv4 address");
      }
      if (literal != null) {
        host = IpAddresses.text(literal);
      } else {
        validateName(ascii, hostText);
        host = ascii;
      }
    }

    if (literal != null) {
      byte[] bytes = IpAddresses.unmap(literal);
      boolean allowed = allowed(bytes);
      IpAddresses.Kind kind = allowed ? null : IpAddresses.forbidden(bytes);
      if (kind != null) {
        throw refused(kind, bytes, "is ");
      }
      if (!tls && !allowed) {
        throw httpsRequired();
      }
    }

    boolean defaultPort = port == (tls ? 443 : 80);
    String normalized = name + "://" + host + (defaultPort ? "" : ":" + port) + pathQuery;
    URI uri;
    try {
      uri = new URI(normalized);
      uri = new URI(uri.toASCIIString());
    } catch (URISyntaxException e) {
      throw new TargetRefusedException("invalid_url", "is not a valid URL (" + e.getReason() + ")");
    }
    return new Target(uri, tls, host, literal);
  }

  /**
   * The host in lower-case ASCII: international names through IDNA, which also folds full-width digits
   * and dots, so that {@code １２７．０．０．１} is seen as the IPv4 literal it becomes.
   */
  private static String asciiHost(String hostText) throws TargetRefusedException {
    if (hostText.indexOf('%') >= 0) {
      throw new TargetRefusedException("host", "has an invalid host (" + hostText + ")");
    }
    String ascii = hostText;
    if (!hostText.chars().allMatch(c -> c < 0x80)) {
      try {
        ascii = IDN.toASCII(hostText, IDN.ALLOW_UNASSIGNED);
      } catch (IllegalArgumentException e) {
        throw new TargetRefusedException("host", "has an invalid host (" + hostText + ")");
      }
    }
    return ascii.toLowerCase(Locale.ROOT);
  }

  private static void validateName(String ascii, String original) throws TargetRefusedException {
    String name = ascii.endsWith(".") ? ascii.substring(0, ascii.length() - 1) : ascii;
    if (name.isEmpty() || name.length() > 253) {
      throw new TargetRefusedException("host", "has an invalid host (" + original + ")");
    }
    for (String label : name.split("\\.", -1)) {
      if (!LABEL.matcher(label).matches()) {
        throw new TargetRefusedException("host", "has an invalid host (" + original + ")");
      }
    }
  }
}
