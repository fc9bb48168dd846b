package io.tidings.server.webhooks;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.List;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * Standard Webhooks v1 signatures: {@code v1,<base64 HMAC-SHA256 of "id.timestamp.body">}, one per
 * secret in use, space-separated (two while an old secret overlaps a new one).
 */
public final class WebhookSigner {
  /** The prefix of every secret, as Standard Webhooks libraries expect it. */
  public static final String PREFIX = "whsec_";
  private static final SecureRandom RANDOM = new SecureRandom();
  // Mac.getInstance walks the providers each time: one instance per thread, keyed afresh per secret.
  private static final ThreadLocal<Mac> MACS = ThreadLocal.withInitial(() -> {
    try {
      return Mac.getInstance("HmacSHA256");
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("HmacSHA256 is unavailable", e);
    }
  });

  private WebhookSigner() {}

  /** A new secret: {@code whsec_} and the base64 of 32 random bytes. */
  public static String newSecret() {
    byte[] key = new byte[32];
    RANDOM.nextBytes(key);
    return PREFIX + Base64.getEncoder().encodeToString(key);
  }

  /** The {@code webhook-signature} header value for a message signed with each of {@code secrets}. */
  public static String signature(List<String> secrets, String messageId, long timestampSeconds, byte[] body) {
    byte[] prefix = (messageId + '.' + timestampSeconds + '.').getBytes(StandardCharsets.UTF_8);
    StringBuilder out = new StringBuilder();
    for (String secret : secrets) {
      try {
        Mac mac = MACS.get();
        mac.init(new SecretKeySpec(key(secret), "HmacSHA256"));
        mac.update(prefix);
        mac.update(body);
        if (out.length() > 0) {
          out.append(' ');
        }
        out.append("v1,").append(Base64.getEncoder().encodeToString(mac.doFinal()));
      } catch (GeneralSecurityException e) {
        throw new IllegalStateException("an HMAC key was refused", e);
      }
    }
    return out.toString();
  }

  private static byte[] key(String secret) {
    return Base64.getDecoder().decode(secret.startsWith(PREFIX) ? secret.substring(PREFIX.length()) : secret);
  }
}
