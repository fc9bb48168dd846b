package io.tidings.server.testing;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.JWSSigner;
import com.nimbusds.jose.crypto.ECDSASigner;
import com.nimbusds.jose.crypto.MACSigner;
import com.nimbusds.jose.crypto.RSASSASigner;
import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jose.jwk.gen.ECKeyGenerator;
import com.nimbusds.jose.jwk.gen.RSAKeyGenerator;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.PublicKey;
import java.util.Base64;
import java.util.Date;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;

/**
 * Makes keys and tokens for authentication tests with nimbus-jose-jwt: HS256, RS256 and ES256
 * tokens with Tidings claims, PEM public keys, JWK sets, and API keys with their SHA-256.
 */
public final class Tokens {
  private Tokens() {}

  /** The claims of a token: subject, grants, and validity (epoch seconds; null leaves the claim out). */
  public record Claims(String sub, List<String> subscribe, List<String> publish, Boolean admin, Long exp, Long nbf) {
    public static Claims of(String sub) {
      return new Claims(sub, null, null, null, nowSeconds() + 3600, null);
    }

    public Claims subscribing(String... patterns) {
      return new Claims(sub, List.of(patterns), publish, admin, exp, nbf);
    }

    public Claims publishing(String... patterns) {
      return new Claims(sub, subscribe, List.of(patterns), admin, exp, nbf);
    }

    public Claims asAdmin() {
      return new Claims(sub, subscribe, publish, true, exp, nbf);
    }

    /** Expires this many seconds from now (negative: in the past). */
    public Claims expiresIn(long seconds) {
      return new Claims(sub, subscribe, publish, admin, nowSeconds() + seconds, nbf);
    }

    public Claims notBeforeIn(long seconds) {
      return new Claims(sub, subscribe, publish, admin, exp, nowSeconds() + seconds);
    }

    public JWTClaimsSet toSet() {
      JWTClaimsSet.Builder b = new JWTClaimsSet.Builder();
      if (sub != null) {
        b.subject(sub);
      }
      if (exp != null) {
        b.expirationTime(new Date(exp * 1000));
      }
      if (nbf != null) {
        b.notBeforeTime(new Date(nbf * 1000));
      }
      java.util.LinkedHashMap<String, Object> t = new java.util.LinkedHashMap<>();
      if (subscribe != null) {
        t.put("subscribe", subscribe);
      }
      if (publish != null) {
        t.put("publish", publish);
      }
      if (admin != null) {
        t.put("admin", admin);
      }
      if (!t.isEmpty()) {
        b.claim("tidings", t);
      }
      return b.build();
    }
  }

  public static long nowSeconds() {
    return System.currentTimeMillis() / 1000;
  }

  public static RSAKey rsaKey(String kid) {
    try {
      return new RSAKeyGenerator(2048).keyID(kid).generate();
    } catch (JOSEException e) {
      throw new IllegalStateException(e);
    }
  }

  public static ECKey ecKey(String kid) {
    try {
      return new ECKeyGenerator(Curve.P_256).keyID(kid).generate();
    } catch (JOSEException e) {
      throw new IllegalStateException(e);
    }
  }

  public static String hs256(String secret, Claims claims) {
    try {
      return sign(new MACSigner(secret.getBytes(StandardCharsets.UTF_8)), new JWSHeader(JWSAlgorithm.HS256), claims);
    } catch (JOSEException e) {
      throw new IllegalStateException(e);
    }
  }

  /** An HS256 token whose HMAC key is any bytes at all (for algorithm-confusion attacks). */
  public static String hs256WithKeyBytes(byte[] key, Claims claims) {
    try {
      return sign(new MACSigner(key), new JWSHeader(JWSAlgorithm.HS256), claims);
    } catch (JOSEException e) {
      throw new IllegalStateException(e);
    }
  }

  /** RS256, with the key's {@code kid} in the header when {@code withKid}. */
  public static String rs256(RSAKey key, boolean withKid, Claims claims) {
    try {
      return sign(new RSASSASigner(key), new JWSHeader.Builder(JWSAlgorithm.RS256).keyID(withKid ? key.getKeyID() : null)
          .build(), claims);
    } catch (JOSEException e) {
      throw new IllegalStateException(e);
    }
  }

  public static String es256(ECKey key, boolean withKid, Claims claims) {
    try {
      return sign(new ECDSASigner(key), new JWSHeader.Builder(JWSAlgorithm.ES256).keyID(withKid ? key.getKeyID() : null)
          .build(), claims);
    } catch (JOSEException e) {
      throw new IllegalStateException(e);
    }
  }

  /** An unsecured token: {@code {"alg":"none"}}, the claims, and an empty signature. */
  public static String none(Claims claims) {
    Base64.Encoder b64 = Base64.getUrlEncoder().withoutPadding();
    return b64.encodeToString("{\"alg\":\"none\",\"typ\":\"JWT\"}".getBytes(StandardCharsets.UTF_8)) + "."
        + b64.encodeToString(claims.toSet().toString().getBytes(StandardCharsets.UTF_8)) + ".";
  }

  private static String sign(JWSSigner signer, JWSHeader header, Claims claims) throws JOSEException {
    SignedJWT jwt = new SignedJWT(header, claims.toSet());
    jwt.sign(signer);
    return jwt.serialize();
  }

  /** A PEM {@code PUBLIC KEY} block (SubjectPublicKeyInfo) for {@code key}. */
  public static String pem(PublicKey key) {
    return "-----BEGIN PUBLIC KEY-----\n"
        + Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII)).encodeToString(key.getEncoded())
        + "\n-----END PUBLIC KEY-----\n";
  }

  /** The public JWK set of {@code keys}, as JSON. */
  public static String jwks(JWK... keys) {
    return new JWKSet(List.of(keys)).toPublicJWKSet().toString();
  }

  /** The hex SHA-256 of an API key, as {@code auth.api_keys[].sha256} wants it. */
  public static String sha256Hex(String key) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(key.getBytes(StandardCharsets.UTF_8)));
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /** An {@code Authorization} header pair for {@link Http} calls. */
  public static String[] bearer(String token) {
    return new String[] {"Authorization", "Bearer " + token};
  }

  /** The {@code Authorization} header as a map, for {@link WsClient#connect(java.net.URI, String, Map, boolean, String...)}. */
  public static Map<String, String> authorization(String token) {
    return Map.of("Authorization", "Bearer " + token);
  }
}
