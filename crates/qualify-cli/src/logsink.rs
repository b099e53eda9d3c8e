//! Where `serve` writes its log: stderr, through one background thread that writes whatever
//! lines are waiting with one system call. Every request logs a line; writing each with its
//! own `write(2)` from the request's thread cost more than building it. Lines are never
//! dropped: when the thread falls behind by `QUEUE` lines, loggers wait for it.
//!
//! Why not `tracing-appender`'s non-blocking writer (issue 10, item 8): it was measured and is
//! slower. Same release binary with a switch between the two, `tracing-appender` 0.2.5 set up to
//! keep today's guarantees (`lossy(false)`, 16 Ki lines, a 64 KiB `BufWriter` on stderr so a batch
//! is one `write(2)`, the guard flushing on exit); `qualify-load` at c=64 on the same 2-core
//! machine, fresh SQLite files, runs alternating:
//!
//! | run | scenario | this sink | tracing-appender | appender/this, geomean of pairs |
//! |---|---|---|---|---|
//! | 6 rounds x 6 s, a server per run | healthz | 42,638 req/s | 42,586 req/s | 0.94 |
//! | | list | 31,153 req/s | 30,098 req/s | 0.92 |
//! | 10 rounds x 4 s, servers side by side | healthz | 41,410 req/s | 38,077 req/s | 0.89 |
//! | | list | 33,224 req/s | 31,536 req/s | 0.94 |
//!
//! (medians, 2026-12-01; single runs swing by 30% on this machine, the paired ratios less.) The
//! server's CPU time per request points the same way: side by side, healthz 19.3 µs here against
//! 20.9 µs and list 29.4 µs against 35.3 µs; a server per run, healthz 20.3 µs both and list
//! 33.7 µs against 36.6 µs. Letting lines gather 2 ms after each of its writes as this sink does (a
//! `flush` that pauses) brought healthz to 0.99 but list to 0.89. Its guard also waits 1 s at
//! most on exit (this one 5 s). Outside the 3% we allowed, so this sink stays.

use std::io::Write;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::time::Duration;

use tracing_subscriber::fmt::MakeWriter;

/// Lines that may wait for the writer thread.
const QUEUE: usize = 16 * 1024;
/// After each write the thread lets lines gather this long: senders then find nobody to wake.
const GATHER: Duration = Duration::from_millis(2);

enum Msg {
    Line(Vec<u8>),
    /// Answered once everything sent before it is written.
    Flush(SyncSender<()>),
}

/// The `MakeWriter` of the log: each event is formatted into its own buffer and handed over
/// whole, so lines from different threads never interleave.
#[derive(Clone)]
pub struct StderrSink {
    tx: SyncSender<Msg>,
}

/// Writes out what is queued when dropped (at the end of `serve`).
pub struct FlushOnDrop {
    tx: SyncSender<Msg>,
}

impl StderrSink {
    pub fn start() -> (Self, FlushOnDrop) {
        let (tx, rx) = sync_channel(QUEUE);
        std::thread::Builder::new()
            .name("qualify-log".into())
            .spawn(move || write_lines(rx, std::io::stderr()))
            .expect("starting the log thread");
        (Self { tx: tx.clone() }, FlushOnDrop { tx })
    }
}

fn write_lines(rx: Receiver<Msg>, mut out: impl Write) {
    let mut batch = Vec::with_capacity(64 * 1024);
    while let Ok(first) = rx.recv() {
        let mut flushed = Vec::new();
        let mut next = Some(first);
        while let Some(msg) = next {
            match msg {
                Msg::Line(line) => batch.extend_from_slice(&line),
                Msg::Flush(done) => flushed.push(done),
            }
            next = rx.try_recv().ok();
        }
        // A log that cannot be written must not stop the service.
        let _ = out.write_all(&batch).and_then(|()| out.flush());
        batch.clear();
        for done in flushed {
            let _ = done.send(());
        }
        std::thread::sleep(GATHER);
    }
}

impl Drop for FlushOnDrop {
    fn drop(&mut self) {
        let (done, written) = sync_channel(1);
        if self.tx.send(Msg::Flush(done)).is_ok() {
            let _ = written.recv_timeout(Duration::from_secs(5));
        }
    }
}

pub struct Line {
    buf: Vec<u8>,
    tx: SyncSender<Msg>,
}

impl Write for Line {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for Line {
    fn drop(&mut self) {
        if !self.buf.is_empty() {
            let _ = self.tx.send(Msg::Line(std::mem::take(&mut self.buf)));
        }
    }
}

impl<'a> MakeWriter<'a> for StderrSink {
    type Writer = Line;
    fn make_writer(&'a self) -> Line {
        Line {
            buf: Vec::with_capacity(256),
            tx: self.tx.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);
    impl Write for Shared {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn lines_from_many_threads_arrive_whole_and_a_flush_waits_for_them() {
        let (tx, rx) = sync_channel(8);
        let out = Shared::default();
        let sink_out = out.clone();
        std::thread::spawn(move || write_lines(rx, sink_out));
        let sink = StderrSink { tx: tx.clone() };
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let sink = sink.clone();
                std::thread::spawn(move || {
                    for i in 0..500 {
                        let mut w = sink.make_writer();
                        // Written in pieces, as the formatter does.
                        write!(w, "thread {t} ").unwrap();
                        writeln!(w, "line {i}").unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        drop(FlushOnDrop { tx });
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2000, "every line, none lost");
        for t in 0..4 {
            let mine: Vec<&str> = lines
                .iter()
                .copied()
                .filter(|l| l.starts_with(&format!("thread {t} ")))
                .collect();
            let expected: Vec<String> = (0..500).map(|i| format!("thread {t} line {i}")).collect();
            assert_eq!(mine, expected, "whole lines, in each thread's order");
        }
    }
}
