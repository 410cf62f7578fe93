import CLinux

/// Ending swctr's own process.
public enum ProcessExit {
    /// Exits with `status` once stdio is flushed, leaving the teardown of the address space to a
    /// child that shares it and outlives this process (`swctr_exit_leaving_teardown`), so that
    /// whoever waits for swctr (a shell, a script) hears of its exit without waiting for that.
    /// No `atexit` handlers run: swctr registers none.
    public static func leavingTeardown(_ status: Int32) -> Never {
        swctr_exit_leaving_teardown(status)
    }

    /// Goes on in the background, as daemon(3) does: returns in a forked child (a session of its
    /// own, in /, stdio on /dev/null) while this process exits with status 0 as `leavingTeardown`
    /// does. Throws only when no child could be forked.
    public static func continuingInBackground() throws(SystemCallError) {
        if swctr_detach_into_background() != 0 { throw SystemCallError("fork") }
    }
}
