//! Background work of the storage engine (memtable flushes, compactions)
//! runs on threads the engine starts itself. Those threads get a lower CPU
//! priority than the ones that serve requests: a compaction that rewrites
//! tens of megabytes takes a core for a second or more, and on a busy
//! machine that second is taken from deliveries (measured: p99 from ~20 ms
//! to 300-400 ms during a compaction at 45,000 deliveries/s). At a lower
//! priority it uses the CPU the serving threads leave; it is never starved,
//! since nice values only weigh shares, so flushes keep up and the engine's
//! own write stall (4 sealed memtables) is not reached.

/// Nice value of the engine's background threads (0 is the default, 19
/// the lowest): a nice-10 thread gets ~10% of a CPU against a nice-0 one.
pub(crate) const BACKGROUND_NICE: i32 = 10;

/// Runs `f` on a short-lived thread whose nice value is `nice`, so that the
/// threads `f` starts inherit it (Linux keeps the nice value per thread and
/// a new thread starts with its creator's). The caller's own priority is
/// untouched: raising it back afterwards would need a privilege.
pub(crate) fn with_lowered_priority<T: Send>(nice: i32, f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| {
        std::thread::Builder::new()
            .name("parley-store-open".into())
            .spawn_scoped(s, move || {
                if let Err(e) = rustix::process::setpriority_process(None, nice) {
                    tracing::warn!(error = %e, "could not lower the storage engine's background priority");
                }
                f()
            })
            .map(|h| h.join())
    })
    .unwrap_or_else(|e| panic!("cannot start a thread: {e}"))
    .unwrap_or_else(|p| std::panic::resume_unwind(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threads_started_inside_inherit_the_lowered_priority_and_the_caller_keeps_its_own() {
        let before = rustix::process::getpriority_process(None).unwrap();
        let child = with_lowered_priority(before + 5, || {
            std::thread::spawn(|| rustix::process::getpriority_process(None).unwrap())
                .join()
                .unwrap()
        });
        assert_eq!(child, (before + 5).min(19));
        assert_eq!(rustix::process::getpriority_process(None).unwrap(), before);
    }
}
