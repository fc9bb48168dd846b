package io.tidings.server;

import io.tidings.server.cli.PollCommand;
import io.tidings.server.cli.PublishCommand;
import io.tidings.server.cli.ServeCommand;
import io.tidings.server.cli.SubscribeCommand;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code tidings} command line. */
@Command(
    name = "tidings",
    mixinStandardHelpOptions = true,
    versionProvider = Main.Version.class,
    description = "A change-delivery hub: durable, ordered topic logs delivered over push and pull.",
    subcommands = {ServeCommand.class, PublishCommand.class, PollCommand.class, SubscribeCommand.class,
        CommandLine.HelpCommand.class})
public final class Main implements Runnable {
  @CommandLine.Spec
  CommandLine.Model.CommandSpec spec;

  public static void main(String[] args) {
    // Events are JSON, which is UTF-8: print them as such whatever the terminal's locale says.
    System.setOut(new java.io.PrintStream(new java.io.FileOutputStream(java.io.FileDescriptor.out), true,
        java.nio.charset.StandardCharsets.UTF_8));
    System.exit(new CommandLine(new Main()).execute(args));
  }

  @Override
  public void run() {
    spec.commandLine().usage(System.out);
  }

  /** The version from the jar manifest, or {@code dev}. */
  public static String version() {
    String v = Main.class.getPackage().getImplementationVersion();
    return v == null ? "dev" : v;
  }

  /** Reads the version from the jar manifest when there is one. */
  static final class Version implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
      return new String[] {"tidings " + version()};
    }
  }
}
