// A KIP-848 (`group.protocol=consumer`) member of one group whose commits the soak driver dictates: kafka-python
// cannot speak the new protocol, and a console consumer commits whatever it read, when it likes. This member
// subscribes, keeps polling (so it stays in the group and owns the partitions), never commits on its own, and
// commits exactly the offsets each stdin line names, answering on stdout:
//   in:  commit <id> <topic>:<partition>:<offset> ...      out: ok <id>   |   err <id> <why>
// A closed stdin (the driver gone) ends it. Run as a source file: java -cp '<kafka libs>/*' Kip848Member.java
// <bootstrap> <group> <topics,comma-separated> <client.id>
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.LinkedBlockingQueue;

import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

public class Kip848Member {
    public static void main(String[] args) throws Exception {
        Properties props = new Properties();
        props.put("bootstrap.servers", args[0]);
        props.put("group.id", args[1]);
        props.put("group.protocol", "consumer");
        props.put("client.id", args[3]);
        props.put("enable.auto.commit", "false");
        props.put("auto.offset.reset", "latest");
        props.put("max.poll.records", "50");
        props.put("key.deserializer", ByteArrayDeserializer.class.getName());
        props.put("value.deserializer", ByteArrayDeserializer.class.getName());
        LinkedBlockingQueue<String> commands = new LinkedBlockingQueue<>();
        Thread stdin = new Thread(() -> {
            try (BufferedReader in = new BufferedReader(new InputStreamReader(System.in))) {
                for (String line; (line = in.readLine()) != null; ) commands.add(line);
            } catch (Exception ignored) {
            }
            commands.add("quit");
        });
        stdin.setDaemon(true);
        stdin.start();
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(props)) {
            consumer.subscribe(List.of(args[2].split(",")));
            System.out.println("started");
            System.out.flush();
            while (true) {
                try {
                    consumer.poll(Duration.ofMillis(200)); // what it reads is thrown away: only commits count
                } catch (Exception e) {
                    System.err.println("poll: " + e);
                }
                for (String command; (command = commands.poll()) != null; ) {
                    if (command.equals("quit")) return;
                    String[] parts = command.trim().split(" ");
                    if (parts.length < 3 || !parts[0].equals("commit")) continue;
                    Map<TopicPartition, OffsetAndMetadata> offsets = new HashMap<>();
                    for (int i = 2; i < parts.length; i++) {
                        int last = parts[i].lastIndexOf(':'), before = parts[i].lastIndexOf(':', last - 1);
                        offsets.put(new TopicPartition(parts[i].substring(0, before),
                                                       Integer.parseInt(parts[i].substring(before + 1, last))),
                                    new OffsetAndMetadata(Long.parseLong(parts[i].substring(last + 1))));
                    }
                    try {
                        consumer.commitSync(offsets, Duration.ofSeconds(10));
                        System.out.println("ok " + parts[1]);
                    } catch (Exception e) {
                        System.out.println("err " + parts[1] + " " + String.valueOf(e).replace('\n', ' '));
                    }
                    System.out.flush();
                }
            }
        }
    }
}
