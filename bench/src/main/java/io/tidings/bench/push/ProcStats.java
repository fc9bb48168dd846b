package io.tidings.bench.push;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** CPU time and memory of processes, read from /proc (Linux only; -1 where unreadable). */
public final class ProcStats {
  private static final Path PROC = Path.of("/proc");
  private static volatile long clkTck = -1;

  private ProcStats() {}

  /** Clock ticks per second of /proc/PID/stat's times ({@code getconf CLK_TCK}, normally 100). */
  public static long clkTck() {
    if (clkTck > 0) {
      return clkTck;
    }
    long v = 100;
    try {
      Process p = new ProcessBuilder("getconf", "CLK_TCK").redirectErrorStream(true).start();
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.US_ASCII).trim();
      if (p.waitFor(5, TimeUnit.SECONDS) && p.exitValue() == 0) {
        v = Long.parseLong(out);
      }
    } catch (IOException | RuntimeException e) {
      // keep 100
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    clkTck = v;
    return v;
  }

  /** {@code pid} and all its descendants that are alive now. */
  public static List<Long> tree(long pid) {
    Map<Long, List<Long>> children = new HashMap<>();
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(PROC)) {
      for (Path d : ds) {
        String name = d.getFileName().toString();
        if (name.isEmpty() || !Character.isDigit(name.charAt(0))) {
          continue;
        }
        String[] f = statFields(Long.parseLong(name));
        if (f == null) {
          continue;
        }
        long ppid = Long.parseLong(f[1]);
        children.computeIfAbsent(ppid, k -> new ArrayList<>()).add(Long.parseLong(name));
      }
    } catch (IOException | RuntimeException e) {
      // just the pid itself
    }
    List<Long> out = new ArrayList<>();
    Deque<Long> todo = new ArrayDeque<>();
    todo.add(pid);
    while (!todo.isEmpty()) {
      long p = todo.poll();
      if (out.contains(p)) {
        continue;
      }
      out.add(p);
      todo.addAll(children.getOrDefault(p, List.of()));
    }
    return out;
  }

  /** Fields of /proc/PID/stat after the command name: [0] = state (field 3), [1] = ppid, … */
  private static String[] statFields(long pid) {
    try {
      String s = Files.readString(PROC.resolve(Long.toString(pid)).resolve("stat"), StandardCharsets.US_ASCII);
      int close = s.lastIndexOf(')');
      return s.substring(close + 2).trim().split(" ");
    } catch (IOException | RuntimeException e) {
      return null;
    }
  }

  /** utime + stime of one process, in clock ticks, or -1. */
  static long cpuTicks(long pid) {
    String[] f = statFields(pid);
    if (f == null || f.length < 13) {
      return -1;
    }
    return Long.parseLong(f[11]) + Long.parseLong(f[12]);
  }

  /** utime + stime of {@code pid} and its descendants, in microseconds (unreadable ones count 0). */
  public static long cpuMicros(List<Long> pids) {
    long ticks = 0;
    for (long p : pids) {
      long t = cpuTicks(p);
      if (t > 0) {
        ticks += t;
      }
    }
    return ticks * 1_000_000L / clkTck();
  }

  private static final Pattern VMRSS = Pattern.compile("(?m)^VmRSS:\\s+(\\d+) kB");

  /** VmRSS of one process in KiB, or -1. */
  static long rssKb(long pid) {
    try {
      String s = Files.readString(PROC.resolve(Long.toString(pid)).resolve("status"), StandardCharsets.US_ASCII);
      Matcher m = VMRSS.matcher(s);
      return m.find() ? Long.parseLong(m.group(1)) : -1;
    } catch (IOException | RuntimeException e) {
      return -1;
    }
  }

  /** Sum of VmRSS over the processes, in KiB. */
  static long rssKb(List<Long> pids) {
    long sum = 0;
    for (long p : pids) {
      long r = rssKb(p);
      if (r > 0) {
        sum += r;
      }
    }
    return sum;
  }

  private static final Pattern HEAP_USED = Pattern.compile("heap\\s+total\\s+\\d+K,\\s+used\\s+(\\d+)K");

  /**
   * For a JVM: runs a full GC ({@code jcmd PID GC.run}) and returns the heap then in use (KiB),
   * i.e. the live data; -1 when jcmd cannot tell (not a JVM, no jcmd, no attach).
   */
  static long jvmLiveHeapKb(long pid) {
    Path jcmd = Path.of(System.getProperty("java.home"), "bin", "jcmd");
    if (!Files.isExecutable(jcmd)) {
      return -1;
    }
    try {
      if (run(jcmd.toString(), Long.toString(pid), "GC.run") == null) {
        return -1;
      }
      String info = run(jcmd.toString(), Long.toString(pid), "GC.heap_info");
      if (info == null) {
        return -1;
      }
      Matcher m = HEAP_USED.matcher(info);
      return m.find() ? Long.parseLong(m.group(1)) : -1;
    } catch (RuntimeException e) {
      return -1;
    }
  }

  /**
   * Seconds a JVM's JIT compilers have spent so far ({@code jstat -compiler PID}), or -1 when that
   * cannot be read (not a JVM, no jstat, no perf data).
   */
  public static double jitSeconds(long pid) {
    Path jstat = Path.of(System.getProperty("java.home"), "bin", "jstat");
    if (!Files.isExecutable(jstat)) {
      return -1;
    }
    String out = run(jstat.toString(), "-compiler", Long.toString(pid));
    if (out == null) {
      return -1;
    }
    try {
      // Compiled Failed Invalid   Time   FailedType FailedMethod
      String[] lines = out.trim().split("\n");
      String[] f = lines[lines.length - 1].trim().split("\\s+");
      return Double.parseDouble(f[3]);
    } catch (RuntimeException e) {
      return -1;
    }
  }

  private static String run(String... cmd) {
    try {
      Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      if (!p.waitFor(60, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        return null;
      }
      return p.exitValue() == 0 ? out : null;
    } catch (IOException e) {
      return null;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return null;
    }
  }
}
