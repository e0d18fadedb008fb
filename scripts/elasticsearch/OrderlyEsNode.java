import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.elasticsearch.common.logging.LogConfigurator;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.env.Environment;
import org.elasticsearch.node.InternalSettingsPreparer;
import org.elasticsearch.node.Node;
import org.elasticsearch.plugins.PluginsLoader;

/**
 * Starts one single-node Elasticsearch from the jars Maven Central publishes (the server and
 * the netty HTTP module), for development and tests on machines without Docker.
 *
 * Usage: OrderlyEsNode <home> <http port> <data dir>
 *   home      the laid-out distribution (lib/, modules/transport-netty4/, config/); read only
 *   data dir  this node's data and logs (the same dir again keeps the data)
 */
public final class OrderlyEsNode {
  public static void main(String[] args) throws Exception {
    if (args.length != 3) {
      System.err.println("usage: OrderlyEsNode <home> <http port> <data dir>");
      System.exit(2);
    }
    Path home = Path.of(args[0]).toAbsolutePath();
    int port = Integer.parseInt(args[1]);
    Path dir = Path.of(args[2]).toAbsolutePath();
    Files.createDirectories(dir.resolve("data"));
    Files.createDirectories(dir.resolve("logs"));
    Files.createDirectories(dir.resolve("tmp"));

    // Logging first: the server's static initialisers log.
    LogConfigurator.registerErrorListener();
    LogConfigurator.configureESLogging();

    Settings settings = Settings.builder()
        .put("path.home", home.toString())
        .put("path.data", dir.resolve("data").toString())
        .put("path.logs", dir.resolve("logs").toString())
        .put("cluster.name", "orderly")
        .put("node.name", "orderly-" + port)
        .put("discovery.type", "single-node")
        .put("network.host", "127.0.0.1")
        .put("http.port", port)
        // Any free transport port: several nodes (dev, tests) run side by side on one machine.
        .put("transport.port", "0")
        // Small dev machines: disk watermarks would make a nearly full disk read-only.
        .put("cluster.routing.allocation.disk.threshold_enabled", false)
        .build();

    Environment env = InternalSettingsPreparer.prepareEnvironment(settings, Map.of(), home.resolve("config"), () -> "orderly-" + port);
    LogConfigurator.setNodeName("orderly-" + port);
    LogConfigurator.configure(env, true);

    PluginsLoader plugins = PluginsLoader.createPluginsLoader(PluginsLoader.loadModulesBundles(env.modulesDir()), Set.of(), Map.of());
    Node node = new Node(env, plugins);
    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      try {
        node.prepareForClose();
        node.close();
        node.awaitClose(20, TimeUnit.SECONDS);
      } catch (Exception e) {
        e.printStackTrace();
      } finally {
        stopped.countDown();
      }
    }, "orderly-es-shutdown"));
    node.start();
    System.out.println("orderly-es: node started, http on 127.0.0.1:" + port);
    stopped.await();
  }
}
