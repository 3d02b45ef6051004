// A minimal Kafka Streams application for lagwatch's tests: it reads one topic with the streams rebalance
// protocol (KIP-1071, group.protocol=streams) and does nothing with the records, so its group (the
// application id) is a live streams group whose committed offsets lagwatch reports.
// Run: java -cp '<kafka-streams libs>/*' StreamsMember.java BOOTSTRAP APPLICATION_ID TOPIC CLIENT_ID
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;

public class StreamsMember {
    public static void main(String[] args) throws Exception {
        Properties props = new Properties();
        props.put("bootstrap.servers", args[0]);
        props.put("application.id", args[1]);
        props.put("client.id", args[3]);
        props.put("group.protocol", "streams");
        props.put("commit.interval.ms", "200");
        props.put("auto.offset.reset", "earliest");
        props.put("default.key.serde", Serdes.ByteArray().getClass().getName());
        props.put("default.value.serde", Serdes.ByteArray().getClass().getName());
        StreamsBuilder builder = new StreamsBuilder();
        builder.stream(args[2]).foreach((key, value) -> { });
        KafkaStreams streams = new KafkaStreams(builder.build(), props);
        CountDownLatch done = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> { streams.close(); done.countDown(); }));
        streams.start();
        done.await();
    }
}
