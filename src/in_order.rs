//! Jobs done on several threads at once, their results taken back in the
//! order the jobs were given: so a batch of small files can use every core
//! while the manifest and the report still follow the walk.
//!
//! Memory stays bounded by the caller: it submits only while fewer than
//! its chosen number of jobs are in flight, and takes results otherwise.

use std::collections::BTreeMap;
use std::io;
use std::panic::{self, AssertUnwindSafe};
use std::sync::mpsc::{Receiver, Sender, SyncSender, channel, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};

type Outcome<R> = thread::Result<R>;

pub struct InOrder<J: Send + 'static, R: Send + 'static> {
    jobs: Option<SyncSender<(u64, J)>>,
    results: Receiver<(u64, Outcome<R>)>,
    threads: Vec<JoinHandle<()>>,
    submitted: u64,
    taken: u64,
    /// Results that came back before an earlier one.
    early: BTreeMap<u64, Outcome<R>>,
}

impl<J: Send + 'static, R: Send + 'static> InOrder<J, R> {
    /// Starts `count` threads, each running its own worker from `make`
    /// (a worker keeps its state, such as a buffer, from job to job).
    /// Up to `queue` jobs wait for a free thread before [`InOrder::submit`]
    /// blocks: a backlog the threads work through while the caller is busy
    /// elsewhere.
    pub fn start<W>(
        count: usize,
        queue: usize,
        name: &str,
        make: impl Fn() -> W,
    ) -> io::Result<Self>
    where
        W: FnMut(J) -> R + Send + 'static,
    {
        let (jobs, job_rx) = sync_channel::<(u64, J)>(queue);
        let job_rx = Arc::new(Mutex::new(job_rx));
        let (result_tx, results) = channel();
        let mut pool = InOrder {
            jobs: Some(jobs),
            results,
            threads: Vec::with_capacity(count),
            submitted: 0,
            taken: 0,
            early: BTreeMap::new(),
        };
        for _ in 0..count {
            let worker = make();
            let job_rx = Arc::clone(&job_rx);
            let result_tx = result_tx.clone();
            let thread = thread::Builder::new()
                .name(name.to_owned())
                .spawn(move || work(worker, &job_rx, &result_tx))?;
            pool.threads.push(thread);
        }
        Ok(pool)
    }

    /// How many jobs were given and not yet taken back.
    pub fn in_flight(&self) -> u64 {
        self.submitted - self.taken
    }

    /// Gives a job to the next free thread.
    pub fn submit(&mut self, job: J) {
        let seq = self.submitted;
        self.submitted += 1;
        let sent = self.jobs.as_ref().map(|jobs| jobs.send((seq, job)));
        if !matches!(sent, Some(Ok(()))) {
            // Every thread is gone, which only a panic does: say so in order.
            let lost: Outcome<R> = Err(Box::new("the worker threads stopped"));
            self.early.insert(seq, lost);
        }
    }

    /// The result of the oldest job not yet taken, waiting for it; `None`
    /// when nothing is in flight. A panic in the job resumes here.
    pub fn take_oldest(&mut self) -> Option<R> {
        if self.in_flight() == 0 {
            return None;
        }
        let outcome = loop {
            if let Some(outcome) = self.early.remove(&self.taken) {
                break outcome;
            }
            match self.results.recv() {
                Ok((seq, outcome)) => {
                    self.early.insert(seq, outcome);
                }
                Err(_) => break Err(Box::new("the worker threads stopped")),
            }
        };
        self.taken += 1;
        Some(outcome.unwrap_or_else(|payload| panic::resume_unwind(payload)))
    }
}

fn work<J, R>(
    mut worker: impl FnMut(J) -> R,
    jobs: &Mutex<Receiver<(u64, J)>>,
    results: &Sender<(u64, Outcome<R>)>,
) {
    loop {
        // A poisoned lock still guards a sound receiver.
        let next = jobs
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .recv();
        let Ok((seq, job)) = next else { return };
        let outcome = panic::catch_unwind(AssertUnwindSafe(|| worker(job)));
        if results.send((seq, outcome)).is_err() {
            return;
        }
    }
}

impl<J: Send + 'static, R: Send + 'static> Drop for InOrder<J, R> {
    /// Lets the threads finish the jobs they hold; results not taken are
    /// dropped (a staged object removes its temp file as it goes).
    fn drop(&mut self) {
        self.jobs = None;
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn results_come_back_in_the_order_given() {
        let mut pool = InOrder::start(3, 3, "test", || {
            |n: u64| {
                // Later jobs finish first.
                thread::sleep(Duration::from_millis(20 - n * 2));
                n * 10
            }
        })
        .unwrap();
        let mut got = Vec::new();
        for n in 0..8 {
            if pool.in_flight() >= 4 {
                got.extend(pool.take_oldest());
            }
            pool.submit(n);
        }
        while let Some(r) = pool.take_oldest() {
            got.push(r);
        }
        assert_eq!(got, (0..8).map(|n| n * 10).collect::<Vec<_>>());
        assert_eq!(pool.take_oldest(), None);
    }

    #[test]
    fn a_panicking_job_panics_where_its_result_is_taken() {
        let mut pool = InOrder::start(2, 2, "test", || {
            |n: u32| {
                assert!(n != 1, "job one fails");
                n
            }
        })
        .unwrap();
        pool.submit(0);
        pool.submit(1);
        assert_eq!(pool.take_oldest(), Some(0));
        let caught = panic::catch_unwind(AssertUnwindSafe(|| pool.take_oldest()));
        assert!(caught.is_err());
    }
}
