package io.tidings.server.outbound;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.URI;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The SSRF guard: URL checks at registration, and resolution and pinning before delivery. */
class TargetGuardTest {
  /** A DNS stand-in: names map to addresses; unknown names do not exist. */
  static final class TableResolver implements Resolver {
    private final Map<String, List<InetAddress>> table;
    final List<String> lookups = new ArrayList<>();

    TableResolver(Map<String, List<InetAddress>> table) {
      this.table = table;
    }

    @Override
    public synchronized CompletionStage<List<InetAddress>> resolve(String host) {
      lookups.add(host);
      List<InetAddress> addresses = table.get(host);
      if (addresses == null) {
        return CompletableFuture.failedFuture(new UnknownHostException(host));
      }
      return CompletableFuture.completedFuture(addresses);
    }
  }

  static InetAddress ip(String literal) {
    try {
      return InetAddress.getByName(literal); // literals only: no DNS
    } catch (UnknownHostException e) {
      throw new AssertionError(e);
    }
  }

  /** An Inet6Address for an IPv4-mapped address, which InetAddress.getByName would unwrap into Inet4Address. */
  static InetAddress mapped6(String v4) {
    byte[] b = new byte[16];
    b[10] = (byte) 0xff;
    b[11] = (byte) 0xff;
    System.arraycopy(ip(v4).getAddress(), 0, b, 12, 4);
    try {
      return Inet6Address.getByAddress(null, b, -1);
    } catch (UnknownHostException e) {
      throw new AssertionError(e);
    }
  }

  private final TableResolver dns = new TableResolver(Map.ofEntries(
      Map.entry("internal.example", List.of(ip("10.0.0.5"))),
      Map.entry("mixed.example", List.of(ip("93.184.215.14"), ip("10.0.0.5"))),
      Map.entry("mixed6.example", List.of(ip("2606:4700::1"), ip("fd00:ec2::254"))),
      Map.entry("public.example", List.of(ip("93.184.215.14"), ip("2606:4700::1"))),
      Map.entry("example.com", List.of(ip("93.184.215.14"))),
      Map.entry("mapped.example", List.of(mapped6("10.0.0.5"))),
      Map.entry("mapped-public.example", List.of(mapped6("93.184.215.14"))),
      Map.entry("metadata.example", List.of(ip("169.254.169.254"))),
      Map.entry("localhost", List.of(ip("127.0.0.1"), ip("::1"))),
      Map.entry("localhost.", List.of(ip("127.0.0.1"))),
      Map.entry("ip6-localhost", List.of(ip("::1"))),
      Map.entry("hooks.test", List.of(ip("127.0.0.1"))),
      Map.entry("empty.example", List.of())));

  private final TargetGuard guard = new TargetGuard(List.of(), dns);

  private record Case(String url, String reason, String message) {}

  private static Case refused(String url, String reason, String message) {
    return new Case(url, reason, message);
  }

  @Test
  void check_refusesTrickyUrls_withAReasonAndAMessage() {
    List<Case> cases = List.of(
        // Legacy IPv4 spellings of 127.0.0.1 that browsers and curl accept.
        refused("http://0x7f.1", "private_address", "is a loopback address (127.0.0.1)"),
        refused("http://0X7F.1/", "private_address", "is a loopback address (127.0.0.1)"),
        refused("http://0x7f000001", "private_address", "is a loopback address (127.0.0.1)"),
        refused("http://2130706433", "private_address", "is a loopback address (127.0.0.1)"),
        refused("http://017700000001", "private_address", "is a loopback address (127.0.0.1)"),
        refused("http://127.1", "private_address", "is a loopback address (127.0.0.1)"),
        refused("http://127.0.1", "private_address", "is a loopback address (127.0.0.1)"),
        refused("http://0x7f.0.0x0.01", "private_address", "is a loopback address (127.0.0.1)"),
        refused("http://0177.0x0.1", "private_address", "is a loopback address (127.0.0.1)"),
        refused("https://127.0.0.1./", "private_address", "is a loopback address (127.0.0.1)"),
        refused("https://127.255.255.254:8443/x", "private_address", "is a loopback address (127.255.255.254)"),
        // Full-width digits and dots fold to ASCII in IDNA, as browsers fold them.
        refused("https://\uff11\uff12\uff17\uff0e\uff10\uff0e\uff10\uff0e\uff11/", "private_address",
            "is a loopback address (127.0.0.1)"),
        // IPv6 and IPv6 forms that embed IPv4.
        refused("http://[::ffff:127.0.0.1]", "private_address", "is a loopback address (127.0.0.1)"),
        refused("http://[::ffff:7f00:1]", "private_address", "is a loopback address (127.0.0.1)"),
        refused("http://[::FFFF:A9FE:A9FE]/", "private_address", "is a link-local address (169.254.169.254)"),
        refused("http://[::1]", "private_address", "is a loopback address (::1)"),
        refused("http://[0:0:0:0:0:0:0:1]:8080", "private_address", "is a loopback address (::1)"),
        refused("http://[::]", "private_address", "is an unspecified address (::)"),
        refused("https://[::127.0.0.1]", "private_address", "is a loopback address (127.0.0.1, embedded in ::7f00:1)"),
        refused("http://[64:ff9b::7f00:1]", "private_address",
            "is a loopback address (127.0.0.1, embedded in 64:ff9b::7f00:1)"),
        refused("https://[64:ff9b::10.1.2.3]", "private_address", "is a private address (10.1.2.3, embedded in 64:ff9b::a01:203)"),
        refused("https://[64:ff9b:1::1]", "private_address", "is a reserved address (64:ff9b:1::1)"),
        refused("http://[2002:7f00:1::]", "private_address",
            "is a loopback address (127.0.0.1, embedded in 2002:7f00:1::)"),
        refused("https://[2002:a9fe:a9fe::1]", "private_address",
            "is a link-local address (169.254.169.254, embedded in 2002:a9fe:a9fe::1)"),
        refused("https://[2001::1]", "private_address", "is a Teredo tunnel address (2001::1)"),
        refused("https://[2001:db8::1]", "private_address", "is a documentation address (2001:db8::1)"),
        refused("http://[fd00:ec2::254]", "private_address", "is a private address (fd00:ec2::254)"),
        refused("https://[fc00::1]", "private_address", "is a private address (fc00::1)"),
        refused("https://[fe80::1]", "private_address", "is a link-local address (fe80::1)"),
        refused("https://[febf::1]", "private_address", "is a link-local address (febf::1)"),
        refused("https://[fec0::1]", "private_address", "is a site-local address (fec0::1)"),
        refused("https://[ff02::1]", "private_address", "is a multicast address (ff02::1)"),
        refused("https://[100::1]", "private_address", "is a reserved address (100::1)"),
        refused("http://[fe80::1%25eth0]", "zone_id", "must not contain an IPv6 zone id (fe80::1%25eth0)"),
        refused("https://[fe80::1%eth0]/", "zone_id", "must not contain an IPv6 zone id (fe80::1%eth0)"),
        refused("https://[1::2::3]", "host", "has an invalid IPv6 address ([1::2::3])"),
        refused("https://[::1", "host", "has an invalid host (unclosed [)"),
        // IPv4 special-purpose blocks.
        refused("http://0.0.0.0", "private_address", "is an unspecified address (0.0.0.0)"),
        refused("http://0", "private_address", "is an unspecified address (0.0.0.0)"),
        refused("http://169.254.169.254/latest/meta-data", "private_address",
            "is a link-local address (169.254.169.254)"),
        refused("http://100.100.100.200", "private_address", "is a shared (carrier-grade NAT) address (100.100.100.200)"),
        refused("https://100.127.255.255", "private_address", "is a shared (carrier-grade NAT) address (100.127.255.255)"),
        refused("https://10.0.0.1", "private_address", "is a private address (10.0.0.1)"),
        refused("https://172.16.0.1", "private_address", "is a private address (172.16.0.1)"),
        refused("https://172.31.255.255", "private_address", "is a private address (172.31.255.255)"),
        refused("https://192.168.1.1", "private_address", "is a private address (192.168.1.1)"),
        refused("https://192.0.0.8", "private_address", "is a reserved address (192.0.0.8)"),
        refused("https://192.0.2.1", "private_address", "is a documentation address (192.0.2.1)"),
        refused("https://198.51.100.7", "private_address", "is a documentation address (198.51.100.7)"),
        refused("https://203.0.113.9", "private_address", "is a documentation address (203.0.113.9)"),
        refused("https://198.19.255.1", "private_address", "is a benchmarking address (198.19.255.1)"),
        refused("https://224.0.0.1", "private_address", "is a multicast address (224.0.0.1)"),
        refused("https://239.255.255.250", "private_address", "is a multicast address (239.255.255.250)"),
        refused("https://240.0.0.1", "private_address", "is a reserved address (240.0.0.1)"),
        refused("https://255.255.255.255", "private_address", "is a broadcast address (255.255.255.255)"),
        // Hosts that end in a number but are no IPv4 address: resolvers disagree about those.
        refused("https://1.2.3.4.5", "host", "has an invalid host (1.2.3.4.5): it ends in a number but is not an IPv4 address"),
        refused("https://08.1.2.3", "host", "has an invalid host (08.1.2.3): it ends in a number but is not an IPv4 address"),
        refused("https://256.1.2.3", "host", "has an invalid host (256.1.2.3): it ends in a number but is not an IPv4 address"),
        refused("https://1.2.65536", "host", "has an invalid host (1.2.65536): it ends in a number but is not an IPv4 address"),
        refused("https://4294967296", "host", "has an invalid host (4294967296): it ends in a number but is not an IPv4 address"),
        refused("https://example.123", "host", "has an invalid host (example.123): it ends in a number but is not an IPv4 address"),
        refused("https://1..2", "host", "has an invalid host (1..2): it ends in a number but is not an IPv4 address"),
        // URL shape.
        refused("http://user:pw@example.com", "userinfo", "must not contain a user name or password"),
        refused("http://example.com@127.0.0.1", "userinfo", "must not contain a user name or password"),
        refused("https://@example.com", "userinfo", "must not contain a user name or password"),
        refused("ftp://x", "scheme", "must be an https URL (not ftp:)"),
        refused("javascript:", "scheme", "must be an https URL (not javascript:)"),
        refused("javascript:alert(1)", "scheme", "must be an https URL (not javascript:)"),
        refused("file:///etc/passwd", "scheme", "must be an https URL (not file:)"),
        refused("gopher://127.0.0.1:6379/_INFO", "scheme", "must be an https URL (not gopher:)"),
        refused("/hooks", "relative", "must be an absolute URL (https://...)"),
        refused("hooks/endpoint", "relative", "must be an absolute URL (https://...)"),
        refused("//example.com/hooks", "relative", "must be an absolute URL (https://...)"),
        refused("?x=1", "relative", "must be an absolute URL (https://...)"),
        refused("", "invalid_url", "a URL is required"),
        refused("https:example.com", "host", "has no host (expected https://host/...)"),
        refused("https:///path", "host", "has no host"),
        refused("https://:443/", "host", "has no host"),
        refused("https://example.com/#frag", "fragment", "must not contain a fragment (#...)"),
        refused("https://example.com#", "fragment", "must not contain a fragment (#...)"),
        refused("https://example.com:0/", "port", "has an invalid port (0); ports are 1-65535"),
        refused("https://example.com:65536/", "port", "has an invalid port (65536); ports are 1-65535"),
        refused("https://example.com:http/", "port", "has an invalid port (http); ports are 1-65535"),
        refused("https://example.com:/", "port", "has an invalid port (); ports are 1-65535"),
        refused("https://exa mple.com/", "invalid_url", "is not a valid URL (it contains a space or control character)"),
        refused("https://example.com\\@127.0.0.1/", "invalid_url", "is not a valid URL (it contains a backslash)"),
        refused("https://example.com/\u0000", "invalid_url", "is not a valid URL (it contains a space or control character)"),
        refused("https://exa%6dple.com/", "host", "has an invalid host (exa%6dple.com)"),
        refused("https://-bad.example/", "host", "has an invalid host (-bad.example)"),
        refused("https://a..b/", "host", "has an invalid host (a..b)"),
        refused("https://exa<mple.com/", "host", "has an invalid host (exa<mple.com)"),
        refused("https://example.com/a|b", "invalid_url", "is not a valid URL (Illegal character in path)"),
        // https is required, except for allow-listed addresses.
        refused("http://93.184.215.14/hook", "https_required", "https is required"),
        refused("http://[2606:4700::1]/hook", "https_required", "https is required"));

    for (Case c : cases) {
      TargetRefusedException e = catchThrowableOfType(TargetRefusedException.class, () -> guard.check(c.url()));
      assertThat(e).as("%s is refused", c.url()).isNotNull();
      assertThat(e.reason()).as("reason for %s", c.url()).isEqualTo(c.reason());
      assertThat(e.getMessage()).as("message for %s", c.url()).isEqualTo(c.message());
    }
  }

  @Test
  void check_acceptsPublicTargets_andNormalizesThem() throws Exception {
    Map<String, String> accepted = Map.ofEntries(
        Map.entry("https://93.184.215.14", "https://93.184.215.14"),
        Map.entry("https://[2606:4700::1]", "https://[2606:4700::1]"),
        Map.entry("https://[2606:4700::1]:8443/a?b=c", "https://[2606:4700::1]:8443/a?b=c"),
        Map.entry("https://[::ffff:93.184.215.14]/x", "https://[::ffff:93.184.215.14]/x"),
        Map.entry("https://[2002:5db8:d70e::1]/", "https://[2002:5db8:d70e::1]/"),
        Map.entry("https://0x5d.0xb8.0xd7.0x0e/", "https://93.184.215.14/"),
        Map.entry("https://1572394766/", "https://93.184.215.14/"),
        Map.entry("https://172.32.0.1/", "https://172.32.0.1/"),
        Map.entry("  HTTPS://Hooks.EXAMPLE.com:443/Path/To?Q=A%20B  ", "https://hooks.example.com/Path/To?Q=A%20B"),
        Map.entry("https://example.com:8443", "https://example.com:8443"),
        Map.entry("https://b\u00fccher.example/caf\u00e9", "https://xn--bcher-kva.example/caf%C3%A9"),
        Map.entry("https://my_host.example.com/x", "https://my_host.example.com/x"),
        Map.entry("https://localhost./", "https://localhost./"),
        Map.entry("https://example.1a/", "https://example.1a/"),
        // Names are decided at pin(), http:// included.
        Map.entry("http://example.com", "http://example.com"),
        Map.entry("http://internal.example:80/x", "http://internal.example/x"));
    for (Map.Entry<String, String> e : accepted.entrySet()) {
      assertThat(guard.check(e.getKey())).as(e.getKey()).isEqualTo(URI.create(e.getValue()));
    }
    assertThat(dns.lookups).as("check() does no DNS").isEmpty();
  }

  @Test
  void pin_refusesNamesThatResolveToForbiddenAddresses() throws Exception {
    assertRefusedAtPin("https://internal.example/hook", "private_address", "resolves to a private address (10.0.0.5)");
    assertRefusedAtPin("https://mixed.example/hook", "private_address", "resolves to a private address (10.0.0.5)");
    assertRefusedAtPin("https://mixed6.example/hook", "private_address",
        "resolves to a private address (fd00:ec2::254)");
    assertRefusedAtPin("https://mapped.example/", "private_address", "resolves to a private address (10.0.0.5)");
    assertRefusedAtPin("https://metadata.example/latest", "private_address",
        "resolves to a link-local address (169.254.169.254)");
    assertRefusedAtPin("https://localhost/", "private_address", "resolves to a loopback address (127.0.0.1)");
    assertRefusedAtPin("https://LOCALHOST/", "private_address", "resolves to a loopback address (127.0.0.1)");
    assertRefusedAtPin("https://localhost./", "private_address", "resolves to a loopback address (127.0.0.1)");
    assertRefusedAtPin("https://ip6-localhost/", "private_address", "resolves to a loopback address (::1)");
    assertRefusedAtPin("https://nowhere.example/", "unresolvable", "does not resolve (no address for nowhere.example)");
    assertRefusedAtPin("https://empty.example/", "unresolvable", "does not resolve (no address for empty.example)");
    assertRefusedAtPin("http://example.com/hook", "https_required", "https is required");
    assertRefusedAtPin("http://mixed.example/hook", "private_address", "resolves to a private address (10.0.0.5)");
    // pin() checks the URL again: it cannot be handed one check() would refuse.
    assertRefusedAtPin("https://127.0.0.1/", "private_address", "is a loopback address (127.0.0.1)");
    assertRefusedAtPin("ftp://example.com/", "scheme", "must be an https URL (not ftp:)");
  }

  @Test
  void pin_resolvesPublicNames_toOneBareAddress() throws Exception {
    PinnedTarget p = pin(guard, "https://public.example:8443/hooks/1?x=y");
    assertThat(p.address()).isEqualTo(ip("93.184.215.14"));
    assertThat(p.uri()).isEqualTo(URI.create("https://public.example:8443/hooks/1?x=y"));
    assertThat(p.host()).isEqualTo("public.example");
    assertThat(p.port()).isEqualTo(8443);
    assertThat(p.tls()).isTrue();
    assertThat(p.pathAndQuery()).isEqualTo("/hooks/1?x=y");

    PinnedTarget mapped = pin(guard, "https://mapped-public.example");
    assertThat(mapped.address()).isInstanceOf(Inet4Address.class).isEqualTo(ip("93.184.215.14"));
    assertThat(mapped.pathAndQuery()).isEqualTo("/");
    assertThat(mapped.port()).isEqualTo(443);

    // A resolver's answer may carry the name; the pinned address must not, so nothing can resolve it again.
    InetAddress withName = InetAddress.getByAddress("named.example", ip("93.184.215.14").getAddress());
    TargetGuard named = new TargetGuard(List.of(), host -> CompletableFuture.completedFuture(List.of(withName)));
    assertThat(pin(named, "https://named.example").address().toString()).isEqualTo("/93.184.215.14");
  }

  @Test
  void pin_ofALiteral_doesNoDns() throws Exception {
    PinnedTarget v6 = pin(guard, "https://[2606:4700::1]:8443/a?b=c");
    assertThat(v6.address()).isEqualTo(ip("2606:4700::1"));
    assertThat(v6.host()).isEqualTo("[2606:4700::1]");
    assertThat(v6.port()).isEqualTo(8443);
    assertThat(v6.pathAndQuery()).isEqualTo("/a?b=c");
    PinnedTarget v4 = pin(guard, "https://0x5d.0xb8.0xd7.0x0e/");
    assertThat(v4.address()).isEqualTo(ip("93.184.215.14"));
    assertThat(v4.host()).isEqualTo("93.184.215.14");
    PinnedTarget mapped = pin(guard, "https://[::ffff:93.184.215.14]/");
    assertThat(mapped.address()).isInstanceOf(Inet4Address.class).isEqualTo(ip("93.184.215.14"));
    assertThat(dns.lookups).isEmpty();
  }

  @Test
  void aFailingResolver_meansUnresolvable() throws Exception {
    TargetGuard throwing = new TargetGuard(List.of(), host -> {
      throw new IllegalStateException("resolver down");
    });
    TargetRefusedException e = refusedAtPin(throwing, "https://example.com/");
    assertThat(e.reason()).isEqualTo("unresolvable");
    assertThat(e.getMessage()).isEqualTo("does not resolve (DNS lookup of example.com failed)");
  }

  @Test
  void theSystemResolver_judgesLocalhostByItsAddresses() throws Exception {
    ExecutorService blocking = Executors.newSingleThreadExecutor();
    try {
      TargetGuard system = new TargetGuard(List.of(), Resolver.system(blocking));
      TargetRefusedException e = refusedAtPin(system, "https://localhost/");
      assertThat(e.reason()).isEqualTo("private_address");
      assertThat(e.getMessage()).startsWith("resolves to a loopback address (");
    } finally {
      blocking.shutdownNow();
    }
  }

  @Test
  void theAllowList_exemptsItsAddresses_andOnlyThose() throws Exception {
    TargetGuard allowing = new TargetGuard(List.of("127.0.0.1/32", "10.0.0.0/8", "::1"), dns);
    assertThat(allowing.check("http://127.0.0.1:8080/hook")).isEqualTo(URI.create("http://127.0.0.1:8080/hook"));
    assertThat(allowing.check("http://0x7f.1/hook")).isEqualTo(URI.create("http://127.0.0.1/hook"));
    assertThat(allowing.check("http://[::ffff:127.0.0.1]/")).isEqualTo(URI.create("http://[::ffff:127.0.0.1]/"));
    assertThat(allowing.check("http://[::1]:9000/")).isEqualTo(URI.create("http://[::1]:9000/"));
    assertThat(allowing.check("https://10.200.0.1/")).isEqualTo(URI.create("https://10.200.0.1/"));

    for (String url : List.of("http://127.0.0.2/", "https://127.0.0.2/", "http://[::2]/", "http://11.0.0.0/x")) {
      TargetRefusedException e = catchThrowableOfType(TargetRefusedException.class, () -> allowing.check(url));
      assertThat(e).as(url).isNotNull();
    }
    assertThat(catchThrowableOfType(TargetRefusedException.class, () -> allowing.check("http://127.0.0.2/")).getMessage())
        .isEqualTo("is a loopback address (127.0.0.2)");
    assertThat(catchThrowableOfType(TargetRefusedException.class, () -> allowing.check("http://11.0.0.0/x")).reason())
        .isEqualTo("https_required");

    // Names are judged by every address they resolve to, at pin().
    assertThat(pin(allowing, "http://hooks.test:8080/x").address()).isEqualTo(ip("127.0.0.1"));
    assertThat(pin(allowing, "http://localhost/").address()).isEqualTo(ip("127.0.0.1"));
    assertThat(pin(allowing, "https://internal.example/").address()).isEqualTo(ip("10.0.0.5"));
    assertThat(pin(allowing, "http://mapped.example/").address()).isEqualTo(ip("10.0.0.5"));
    assertThat(refusedAtPin(allowing, "https://mixed6.example/").reason()).isEqualTo("private_address");
    // A public address is not allow-listed: http:// to it stays refused.
    assertThat(refusedAtPin(allowing, "http://mixed.example/").reason()).isEqualTo("https_required");
    assertThat(pin(allowing, "https://mixed.example/").address()).isEqualTo(ip("93.184.215.14"));
    assertThat(allowing.allowListed(ip("10.1.2.3"))).isTrue();
    assertThat(allowing.allowListed(mapped6("127.0.0.1"))).isTrue();
    assertThat(allowing.allowListed(ip("127.0.0.2"))).isFalse();
  }

  @Test
  void badAllowListEntries_areRejected_namingTheEntry() {
    for (String bad : List.of("10.0.0.0/33", "::1/129", "10.0.0.0/", "10.0.0.0/-1", "10.0.0.0/8/8", "example.com",
        "10.0.0", "127.1", "0x7f.0.0.1", "010.0.0.1", "", "1.2.3.4.5", "fe80::1%eth0", "10.0.0.0/x")) {
      assertThatThrownBy(() -> new TargetGuard(List.of("127.0.0.1", bad), dns)).as(bad)
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("\"" + bad + "\"");
    }
    assertThatThrownBy(() -> new TargetGuard(List.of("10.0.0.1/8"), dns))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("allow-list entry \"10.0.0.1/8\" has bits set past its prefix; did you mean 10.0.0.0/8?");
    // These are fine.
    new TargetGuard(List.of("0.0.0.0/0", "::/0", "fd00::/8", "[::1]/128", " 192.168.0.0/16 ", "::ffff:10.0.0.0/104"), dns);
  }

  @Test
  void cidrs_matchWhatTheyShould() {
    assertThat(Cidr.parse("10.0.0.0/8").contains(ip("10.255.255.255").getAddress())).isTrue();
    assertThat(Cidr.parse("10.0.0.0/8").contains(ip("11.0.0.0").getAddress())).isFalse();
    assertThat(Cidr.parse("172.16.0.0/12").contains(ip("172.31.0.1").getAddress())).isTrue();
    assertThat(Cidr.parse("172.16.0.0/12").contains(ip("172.32.0.1").getAddress())).isFalse();
    assertThat(Cidr.parse("0.0.0.0/0").contains(ip("8.8.8.8").getAddress())).isTrue();
    assertThat(Cidr.parse("0.0.0.0/0").contains(ip("::1").getAddress())).as("families do not mix").isFalse();
    assertThat(Cidr.parse("fd00::/8").contains(ip("fd12::1").getAddress())).isTrue();
    assertThat(Cidr.parse("::ffff:10.0.0.0/104").contains(ip("10.1.1.1").getAddress())).isTrue();
    assertThat(Cidr.parse("::ffff:10.0.0.0/104").toString()).isEqualTo("10.0.0.0/8");
  }

  @Test
  void ipv4Parsing_followsTheUrlStandard() {
    assertThat(IpAddresses.parseIpv4("example.com")).isNull();
    assertThat(IpAddresses.parseIpv4("0x7f.1")).containsExactly(127, 0, 0, 1);
    assertThat(IpAddresses.parseIpv4("0x")).containsExactly(0, 0, 0, 0);
    assertThat(IpAddresses.parseIpv4("1.0x10.0300")).containsExactly(1, 16, 0, 192);
    assertThat(IpAddresses.parseIpv4("4294967295")).containsExactly(255, 255, 255, 255);
    assertThat(IpAddresses.parseIpv4("0000000000000000000000000000000000000000177.1")).containsExactly(127, 0, 0, 1);
    assertThat(IpAddresses.parseIpv4("0x1g")).as("not a number: a name").isNull();
    assertThat(IpAddresses.parseIpv4("0x1.com")).as("a name whose first label looks numeric").isNull();
    assertThatThrownBy(() -> IpAddresses.parseIpv4("com.0x1.2.3.4")).isInstanceOf(IllegalArgumentException.class);
    assertThat(IpAddresses.text(IpAddresses.parseIpv6("fd00:ec2:0:0:0:0:0:254"))).isEqualTo("fd00:ec2::254");
    assertThat(IpAddresses.text(IpAddresses.parseIpv6("1:0:0:2:0:0:0:3"))).isEqualTo("1:0:0:2::3");
    assertThat(IpAddresses.text(IpAddresses.parseIpv6("1:0:2:3:4:5:6:7"))).isEqualTo("1:0:2:3:4:5:6:7");
    assertThat(IpAddresses.text(IpAddresses.parseIpv6("::"))).isEqualTo("::");
    assertThat(IpAddresses.parseIpv6("1:2:3:4:5:6:7:8")).isNotNull();
    assertThat(IpAddresses.parseIpv6("1:2:3:4:5:6:7:8:9")).isNull();
    assertThat(IpAddresses.parseIpv6("1:2:3:4:5:6:7::")).isNotNull();
    assertThat(IpAddresses.parseIpv6("::1.2.3.04")).isNull();
    assertThat(IpAddresses.parseIpv6("1.2.3.4::")).isNull();
    assertThat(IpAddresses.parseIpv6("12345::")).isNull();
    assertThat(IpAddresses.parseIpv6(":1::")).isNull();
  }

  private PinnedTarget pin(TargetGuard g, String url) throws Exception {
    return g.pin(g.check(url)).toCompletableFuture().get(10, TimeUnit.SECONDS);
  }

  private void assertRefusedAtPin(String url, String reason, String message) throws Exception {
    TargetRefusedException e = refusedAtPin(guard, url);
    assertThat(e.reason()).as("reason for %s", url).isEqualTo(reason);
    assertThat(e.getMessage()).as("message for %s", url).isEqualTo(message);
  }

  /** Pins without check() first: pin() must refuse on its own. */
  private static TargetRefusedException refusedAtPin(TargetGuard g, String url) throws Exception {
    try {
      PinnedTarget p = g.pin(URI.create(url)).toCompletableFuture().get(10, TimeUnit.SECONDS);
      throw new AssertionError(url + " was pinned to " + p.address());
    } catch (ExecutionException e) {
      assertThat(e.getCause()).as(url).isInstanceOf(TargetRefusedException.class);
      return (TargetRefusedException) e.getCause();
    }
  }
}
