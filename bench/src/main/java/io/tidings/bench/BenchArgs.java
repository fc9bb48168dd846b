package io.tidings.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** What the benchmark drivers share: {@code --key value} arguments, word lists, the load average. */
public final class BenchArgs {
  private BenchArgs() {}

  /**
   * Parses {@code --key value} pairs; the keys in {@code flags} take no value (they mean "true").
   *
   * @throws IllegalArgumentException naming the bad argument, followed by {@code usage}
   */
  public static Map<String, String> parse(String[] argv, Set<String> flags, String usage) {
    Map<String, String> m = new LinkedHashMap<>();
    for (int i = 0; i < argv.length; i++) {
      String k = argv[i];
      if (!k.startsWith("--")) {
        throw new IllegalArgumentException("unexpected argument " + k + "\n" + usage);
      }
      k = k.substring(2);
      if (k.equals("help") || flags.contains(k)) {
        m.put(k, "true");
      } else if (i + 1 < argv.length) {
        m.put(k, argv[++i]);
      } else {
        throw new IllegalArgumentException("--" + k + " needs a value\n" + usage);
      }
    }
    return m;
  }

  /** Whitespace-separated words (JVM options, server arguments); none for a blank string. */
  public static List<String> split(String s) {
    s = s.trim();
    return s.isEmpty() ? List.of() : new ArrayList<>(Arrays.asList(s.split("\\s+")));
  }

  /** The 1, 5 and 15 minute load averages, or "?" where /proc is missing. */
  public static String loadAverage() {
    try {
      String[] f = Files.readString(Path.of("/proc/loadavg")).trim().split("\\s+");
      return f[0] + " " + f[1] + " " + f[2];
    } catch (IOException | RuntimeException e) {
      return "?";
    }
  }
}
