package dev.flagwire;

import com.optimizely.ab.Optimizely;
import com.optimizely.ab.config.ProjectConfig;
import com.optimizely.ab.notification.NotificationHandler;
import com.optimizely.ab.notification.UpdateConfigNotification;
import com.optimizely.ab.optimizelyconfig.OptimizelyConfig;

/** The config-update handler of an attachment: gives flagwire each new datafile. */
final class DatafilePusher implements NotificationHandler<UpdateConfigNotification> {
    private final FlagwireClient client;
    private final Optimizely optimizely;
    private final ListenerFailures failures;
    private volatile String lastPushed;

    DatafilePusher(FlagwireClient client, Optimizely optimizely, ListenerFailures failures) {
        this.client = client;
        this.optimizely = optimizely;
        this.failures = failures;
    }

    @Override
    public void handle(UpdateConfigNotification notification) {
        try {
            push();
        } catch (Throwable t) {
            failures.failed(t);
        }
    }

    /**
     * Pushes the current datafile when it changed. {@code getProjectConfig()} waits for a polling
     * config manager's first datafile, as {@code decide()} does; when there is none yet, the next
     * update pushes it.
     */
    synchronized void push() {
        String datafile = null;
        ProjectConfig config = optimizely.getProjectConfig();
        if (config != null) {
            datafile = config.toDatafile();
        }
        if (datafile == null) {
            OptimizelyConfig oc = optimizely.getOptimizelyConfig();
            datafile = oc == null ? null : oc.getDatafile();
        }
        if (datafile == null || datafile == lastPushed || client.isClosed()) {
            return;
        }
        client.setDatafile(datafile); // throws when refused: attach() fails loudly, updates are counted
        lastPushed = datafile;
    }
}
