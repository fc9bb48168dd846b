package io.tidings.server.auth;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSVerifier;
import com.nimbusds.jose.crypto.ECDSAVerifier;
import com.nimbusds.jose.crypto.MACVerifier;
import com.nimbusds.jose.crypto.RSASSAVerifier;
import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.jwk.KeyOperation;
import com.nimbusds.jose.jwk.KeyUse;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import io.tidings.server.config.ConfigException;
import io.tidings.server.config.TidingsConfig;
import java.nio.charset.StandardCharsets;
import java.text.ParseException;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.function.LongSupplier;

/**
 * Verifies JSON Web Tokens signed with HS256, RS256 or ES256 and reads their Tidings claims.
 *
 * <p>Each algorithm has its own keys and nothing else: HS256 only ever uses {@code hs256_secret},
 * RS256 only RSA public keys, ES256 only P-256 public keys. So an RSA public key can never serve as
 * an HMAC secret (algorithm confusion), and {@code alg: none} or any other algorithm is refused
 * before a key is looked at. Signatures are checked by nimbus-jose-jwt.
 */
final class JwtVerifier implements AutoCloseable {
  /** What a valid token says. {@code expiresAt} is epoch millis, or {@code Long.MAX_VALUE} without {@code exp}. */
  record Verified(String subject, Grants grants, long expiresAt) {}

  private final JWSVerifier hmac;
  private final JWSVerifier rsa;
  private final JWSVerifier ec;
  private final JwksSource jwks;
  private final long skewMillis;
  private final String issuer;
  private final String audience;
  private final LongSupplier clock;

  JwtVerifier(TidingsConfig.Jwt config, LongSupplier clock) {
    this.clock = clock;
    this.skewMillis = config.clockSkew.toMillis();
    this.issuer = config.issuer;
    this.audience = config.audience;
    try {
      hmac = config.hs256Secret == null ? null : new MACVerifier(config.hs256Secret.getBytes(StandardCharsets.UTF_8));
      rsa = config.rs256PublicKey == null ? null
          : new RSASSAVerifier(PemKeys.rsa(config.rs256PublicKey, "auth.jwt.rs256_public_key"));
      ec = config.es256PublicKey == null ? null
          : new ECDSAVerifier(PemKeys.ec(config.es256PublicKey, "auth.jwt.es256_public_key"));
    } catch (JOSEException e) {
      throw new ConfigException("auth.jwt: " + e.getMessage());
    }
    this.jwks = config.jwks == null ? null
        : new JwksSource(config.jwks, config.jwksMinRefreshInterval, config.jwksRefreshInterval, clock);
  }

  /** Verifies {@code token}; fails with {@link AuthFailure}. Completes at once unless a JWK set must be loaded. */
  CompletableFuture<Verified> verify(String token) {
    SignedJWT jwt;
    try {
      jwt = SignedJWT.parse(token);
    } catch (ParseException e) {
      return CompletableFuture.failedFuture(new AuthFailure("the token is not a signed JWT"));
    }
    JWSAlgorithm alg = jwt.getHeader().getAlgorithm();
    String kid = jwt.getHeader().getKeyID();
    try {
      if (JWSAlgorithm.HS256.equals(alg)) {
        if (hmac == null) {
          throw new AuthFailure("HS256 tokens are not accepted by this server");
        }
        return CompletableFuture.completedFuture(check(jwt, List.of(hmac)));
      }
      if (!JWSAlgorithm.RS256.equals(alg) && !JWSAlgorithm.ES256.equals(alg)) {
        throw new AuthFailure("the token's algorithm is not accepted (HS256, RS256 and ES256 are)");
      }
      if (jwks != null && kid != null && !jwks.current().hasKid(kid)) {
        // A key we have not seen: perhaps the issuer rotated. Load the set again (rate-limited).
        return jwks.refresh().thenApply(s -> check(jwt, verifiers(alg, kid, s)));
      }
      return CompletableFuture.completedFuture(check(jwt, verifiers(alg, kid, jwks == null ? null : jwks.current())));
    } catch (AuthFailure e) {
      return CompletableFuture.failedFuture(e);
    }
  }

  private List<JWSVerifier> verifiers(JWSAlgorithm alg, String kid, JwksSource.Snapshot set) {
    List<JWSVerifier> out = new ArrayList<>(2);
    JWSVerifier configured = JWSAlgorithm.RS256.equals(alg) ? rsa : ec;
    if (configured != null) {
      out.add(configured);
    }
    if (set != null) {
      for (JWK k : set.keys()) {
        if ((kid != null && !kid.equals(k.getKeyID())) || !usableForSigning(k, alg)) {
          continue;
        }
        try {
          if (JWSAlgorithm.RS256.equals(alg) && k instanceof RSAKey r) {
            out.add(new RSASSAVerifier(r));
          } else if (JWSAlgorithm.ES256.equals(alg) && k instanceof ECKey e && Curve.P_256.equals(e.getCurve())) {
            out.add(new ECDSAVerifier(e));
          }
        } catch (JOSEException e) {
          // a key of the set that cannot verify this algorithm is simply not a candidate
        }
      }
    }
    return out;
  }

  private static boolean usableForSigning(JWK k, JWSAlgorithm alg) {
    return (k.getAlgorithm() == null || k.getAlgorithm().equals(alg))
        && (k.getKeyUse() == null || KeyUse.SIGNATURE.equals(k.getKeyUse()))
        && (k.getKeyOperations() == null || k.getKeyOperations().contains(KeyOperation.VERIFY));
  }

  private Verified check(SignedJWT jwt, List<JWSVerifier> candidates) {
    if (candidates.isEmpty()) {
      throw new AuthFailure("no key of this server can verify the token");
    }
    boolean valid = false;
    for (JWSVerifier v : candidates) {
      try {
        if (jwt.verify(v)) {
          valid = true;
          break;
        }
      } catch (JOSEException | IllegalStateException e) {
        // a verifier that cannot handle the token does not vouch for it
      }
    }
    if (!valid) {
      throw new AuthFailure("the token's signature is not valid");
    }
    JWTClaimsSet claims;
    try {
      claims = jwt.getJWTClaimsSet();
    } catch (ParseException e) {
      throw new AuthFailure("the token's claims are not a JSON object");
    }
    long now = clock.getAsLong();
    Date exp;
    Date nbf;
    try {
      exp = claims.getDateClaim("exp");
      nbf = claims.getDateClaim("nbf");
    } catch (ParseException e) {
      throw new AuthFailure("'exp' and 'nbf' must be numeric dates");
    }
    if (exp != null && now > exp.getTime() + skewMillis) {
      throw new AuthFailure("the token has expired");
    }
    if (nbf != null && now + skewMillis < nbf.getTime()) {
      throw new AuthFailure("the token is not valid yet");
    }
    if (issuer != null && !issuer.equals(claims.getIssuer())) {
      throw new AuthFailure("the token was issued by someone else");
    }
    if (audience != null && (claims.getAudience() == null || !claims.getAudience().contains(audience))) {
      throw new AuthFailure("the token is meant for another audience");
    }
    Object sub = claims.getClaim("sub");
    if (sub != null && !(sub instanceof String)) {
      throw new AuthFailure("'sub' must be a string");
    }
    return new Verified((String) sub, grants(claims), exp == null ? Long.MAX_VALUE : exp.getTime());
  }

  private static Grants grants(JWTClaimsSet claims) {
    Object t = claims.getClaim("tidings");
    if (t == null) {
      return Grants.NONE;
    }
    if (!(t instanceof Map<?, ?> m)) {
      throw new AuthFailure("the 'tidings' claim must be an object");
    }
    Object admin = m.get("admin");
    if (admin != null && !(admin instanceof Boolean)) {
      throw new AuthFailure("'tidings.admin' must be true or false");
    }
    Object webhooks = m.get("webhooks");
    if (webhooks != null && !(webhooks instanceof Boolean)) {
      throw new AuthFailure("'tidings.webhooks' must be true or false");
    }
    try {
      return Grants.of(patterns(m.get("subscribe"), "subscribe"), patterns(m.get("publish"), "publish"),
          Boolean.TRUE.equals(admin), Boolean.TRUE.equals(webhooks));
    } catch (IllegalArgumentException e) {
      throw new AuthFailure("the 'tidings' claim holds an invalid pattern");
    }
  }

  private static List<String> patterns(Object value, String name) {
    if (value == null) {
      return List.of();
    }
    if (!(value instanceof List<?> list) || list.size() > 1000) {
      throw new AuthFailure("'tidings." + name + "' must be a list of at most 1000 patterns");
    }
    List<String> out = new ArrayList<>(list.size());
    for (Object o : list) {
      if (!(o instanceof String s)) {
        throw new AuthFailure("'tidings." + name + "' must hold strings only");
      }
      out.add(s);
    }
    return out;
  }

  /** JWK set loads attempted so far; 0 without a set. */
  int jwksLoads() {
    return jwks == null ? 0 : jwks.loads();
  }

  @Override
  public void close() {
    if (jwks != null) {
      jwks.close();
    }
  }
}
