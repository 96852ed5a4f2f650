// The PTB tokenizer as a long-lived process, for kosmos_eval/metrics/ptb.py.
//
// Why: starting a JVM per batch of captions costs a fifth of a second of CPU; a captioning run that scores
// while it generates tokenises a batch every step. This process runs the jar's own command-line entry
// point, PTBTokenizer.main with the options pycocoevalcap passes, once per request, with standard input and
// output pointed at the request and the answer, so the tokens are those of one command-line run.
//
// Protocol: a request is its length in bytes on one line, then that many bytes of UTF-8 captions (one per
// line); the answer is its length on one line, then the tokenizer's output. The process ends when its
// input does.

import java.io.BufferedInputStream;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

public class PtbServer {
    private static final String[] OPTIONS = {"-preserveLines", "-lowerCase"};

    public static void main(String[] args) throws Exception {
        DataInputStream in = new DataInputStream(new BufferedInputStream(System.in));
        PrintStream out = System.out;
        System.setErr(new PrintStream(OutputStream.nullOutputStream()));  // the tokenizer's speed report
        for (String header = readLine(in); header != null; header = readLine(in)) {
            byte[] request = new byte[Integer.parseInt(header.trim())];
            in.readFully(request);
            ByteArrayOutputStream answer = new ByteArrayOutputStream();
            System.setIn(new ByteArrayInputStream(request));
            System.setOut(new PrintStream(answer, true, "UTF-8"));
            try {
                edu.stanford.nlp.process.PTBTokenizer.main(OPTIONS);
            } finally {
                System.out.flush();
                System.setOut(out);
            }
            byte[] bytes = answer.toByteArray();
            out.write((bytes.length + "\n").getBytes(StandardCharsets.US_ASCII));
            out.write(bytes);
            out.flush();
        }
    }

    private static String readLine(DataInputStream in) throws IOException {
        StringBuilder line = new StringBuilder();
        int c;
        while ((c = in.read()) != -1 && c != '\n') {
            line.append((char) c);
        }
        return c == -1 && line.length() == 0 ? null : line.toString();
    }
}
