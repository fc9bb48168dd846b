package io.tidings.server.auth;

import com.nimbusds.jose.jwk.Curve;
import io.tidings.server.config.ConfigException;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PublicKey;
import java.security.cert.CertificateFactory;
import java.security.interfaces.ECPublicKey;
import java.security.interfaces.RSAPublicKey;
import java.security.spec.X509EncodedKeySpec;
import java.util.Base64;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Reads public keys for RS256 and ES256 from PEM files: {@code PUBLIC KEY} (SPKI) or {@code CERTIFICATE}. */
final class PemKeys {
  private static final Pattern BLOCK = Pattern.compile(
      "-----BEGIN ([A-Z ]+)-----([A-Za-z0-9+/=\\s]+)-----END \\1-----");

  private PemKeys() {}

  static RSAPublicKey rsa(String file, String key) {
    PublicKey k = read(file, key, "RSA");
    if (!(k instanceof RSAPublicKey rsa)) {
      throw new ConfigException(key + ": " + file + " does not hold an RSA public key");
    }
    if (rsa.getModulus().bitLength() < 2048) {
      throw new ConfigException(key + ": the RSA key in " + file + " has fewer than 2048 bits");
    }
    return rsa;
  }

  static ECPublicKey ec(String file, String key) {
    PublicKey k = read(file, key, "EC");
    if (!(k instanceof ECPublicKey ec) || !Curve.P_256.equals(Curve.forECParameterSpec(ec.getParams()))) {
      throw new ConfigException(key + ": " + file + " does not hold a P-256 (secp256r1) EC public key");
    }
    return ec;
  }

  private static PublicKey read(String file, String key, String algorithm) {
    String text;
    try {
      text = Files.readString(Path.of(file), StandardCharsets.US_ASCII);
    } catch (IOException e) {
      throw new ConfigException(key + ": cannot read " + file + ": " + e.getMessage());
    }
    Matcher m = BLOCK.matcher(text);
    while (m.find()) {
      byte[] der;
      try {
        der = Base64.getMimeDecoder().decode(m.group(2));
      } catch (IllegalArgumentException e) {
        throw new ConfigException(key + ": " + file + " has a PEM block that is not base64");
      }
      try {
        switch (m.group(1)) {
          case "PUBLIC KEY":
            return KeyFactory.getInstance(algorithm).generatePublic(new X509EncodedKeySpec(der));
          case "CERTIFICATE":
            return CertificateFactory.getInstance("X.509").generateCertificate(new ByteArrayInputStream(der))
                .getPublicKey();
          default:
            // private keys and other blocks are skipped: only the public key is wanted
        }
      } catch (GeneralSecurityException e) {
        throw new ConfigException(key + ": " + file + " does not hold a valid " + algorithm + " public key ("
            + e.getMessage() + ")");
      }
    }
    throw new ConfigException(key + ": " + file + " holds no '-----BEGIN PUBLIC KEY-----' or"
        + " '-----BEGIN CERTIFICATE-----' block");
  }
}
