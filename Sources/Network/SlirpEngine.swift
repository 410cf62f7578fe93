import CNetwork
import RuntimeSpec
#if canImport(Glibc)
import Glibc
#endif

/// The poll(2) set of one turn of the helper's loop: the helper's own fds first, then libslirp's.
final class PollSet {
    var entries: [pollfd] = []

    func add(_ fd: Int32, _ events: Int16) -> Int {
        entries.append(pollfd(fd: fd, events: events, revents: 0))
        return entries.count - 1
    }

    func revents(_ index: Int) -> Int16 { index >= 0 && index < entries.count ? entries[index].revents : 0 }
}

/// libslirp's TCP/IP stack behind the TAP device: frames from the container go in with `input`,
/// frames for it come out through `send_packet` onto the TAP fd; its host-side sockets join the
/// helper's poll set; its timers are kept here.
final class SlirpEngine {
    final class Timer {
        let callback: SlirpTimerCb
        let argument: UnsafeMutableRawPointer?
        /// Milliseconds on the monotonic clock; -1 when not armed.
        var expiry: Int64 = -1
        init(callback: SlirpTimerCb, argument: UnsafeMutableRawPointer?) {
            self.callback = callback
            self.argument = argument
        }
    }

    /// The TAP device's fd, where the container's frames go; -1 until the helper has made it
    /// (the engine is made while the helper waits for the container, and sends nothing before).
    var tap: Int32
    let polls: PollSet
    private(set) var slirp: OpaquePointer?
    private var timers: [ObjectIdentifier: Timer] = [:]
    private var callbacks = SlirpCb()

    struct Settings {
        var allowHostLoopback: Bool
        var mtu: Int
        var ipv6: Bool
    }

    init(tap: Int32, polls: PollSet, settings: Settings) throws(NetworkError) {
        self.tap = tap
        self.polls = polls
        var error = [CChar](repeating: 0, count: 256)
        guard swctr_slirp_load(&error, error.count) == 0 else {
            throw .slirpUnavailable(cText(error))
        }
        callbacks.send_packet = { buffer, length, opaque in
            let engine = Unmanaged<SlirpEngine>.fromOpaque(opaque!).takeUnretainedValue()
            let written = write(engine.tap, buffer, length)
            // A full TAP queue drops the frame; TCP retransmits it.
            return written < 0 ? Int(length) : written
        }
        callbacks.guest_error = { _, _ in }
        callbacks.clock_get_ns = { _ in SlirpEngine.nowNanoseconds() }
        callbacks.timer_new = { callback, argument, opaque in
            let engine = Unmanaged<SlirpEngine>.fromOpaque(opaque!).takeUnretainedValue()
            let timer = Timer(callback: callback!, argument: argument)
            engine.timers[ObjectIdentifier(timer)] = timer
            return Unmanaged.passUnretained(timer).toOpaque()
        }
        callbacks.timer_free = { handle, opaque in
            let engine = Unmanaged<SlirpEngine>.fromOpaque(opaque!).takeUnretainedValue()
            let timer = Unmanaged<Timer>.fromOpaque(handle!).takeUnretainedValue()
            engine.timers[ObjectIdentifier(timer)] = nil
        }
        callbacks.timer_mod = { handle, expiry, _ in
            Unmanaged<Timer>.fromOpaque(handle!).takeUnretainedValue().expiry = expiry
        }
        callbacks.register_poll_fd = { _, _ in }
        callbacks.unregister_poll_fd = { _, _ in }
        callbacks.notify = { _ in }

        var config = SlirpConfig()
        config.version = 3
        config.in_enabled = true
        config.vnetwork = Self.address(SlirpAddresses.network)
        config.vnetmask = Self.address(SlirpAddresses.netmask)
        config.vhost = Self.address(SlirpAddresses.gateway)
        config.vnameserver = Self.address(SlirpAddresses.dns)
        config.vdhcp_start = Self.address("10.0.2.15")
        config.if_mtu = settings.mtu
        config.if_mru = settings.mtu
        config.disable_host_loopback = !settings.allowHostLoopback
        config.in6_enabled = settings.ipv6
        if settings.ipv6 {
            config.vprefix_addr6 = Self.address6("fd00::")
            config.vprefix_len = 64
            config.vhost6 = Self.address6("fd00::2")
            config.vnameserver6 = Self.address6("fd00::3")
        }
        let made = withUnsafePointer(to: &config) { configuration in
            withUnsafePointer(to: &callbacks) { table in
                swctr_slirp_new(configuration, table, Unmanaged.passUnretained(self).toOpaque())
            }
        }
        guard let made else { throw .slirpUnavailable("slirp_new failed") }
        slirp = made
    }

    deinit {
        if let slirp { swctr_slirp_cleanup(slirp) }
    }

    /// Adds libslirp's sockets to the poll set; returns how long poll may wait (ms).
    func fill(timeout: Int32) -> Int32 {
        guard let slirp else { return timeout }
        var wait = UInt32(max(timeout, 0))
        swctr_slirp_pollfds_fill(slirp, &wait, { fd, events, opaque in
            let engine = Unmanaged<SlirpEngine>.fromOpaque(opaque!).takeUnretainedValue()
            var mask: Int16 = 0
            if events & Int32(SLIRP_POLL_IN) != 0 { mask |= Int16(POLLIN) }
            if events & Int32(SLIRP_POLL_OUT) != 0 { mask |= Int16(POLLOUT) }
            if events & Int32(SLIRP_POLL_PRI) != 0 { mask |= Int16(POLLPRI) }
            return Int32(engine.polls.add(fd, mask))
        }, Unmanaged.passUnretained(self).toOpaque())
        var result = Int32(clamping: wait)
        let now = Self.nowNanoseconds() / 1_000_000
        for timer in timers.values where timer.expiry >= 0 {
            result = min(result, Int32(clamping: max(0, timer.expiry - now)))
        }
        return result
    }

    /// After poll: lets libslirp serve its sockets and fire due timers.
    func dispatch(pollFailed: Bool) {
        guard let slirp else { return }
        swctr_slirp_pollfds_poll(slirp, pollFailed ? 1 : 0, { index, opaque in
            let engine = Unmanaged<SlirpEngine>.fromOpaque(opaque!).takeUnretainedValue()
            let revents = engine.polls.revents(Int(index))
            var result: Int32 = 0
            if revents & Int16(POLLIN) != 0 { result |= Int32(SLIRP_POLL_IN) }
            if revents & Int16(POLLOUT) != 0 { result |= Int32(SLIRP_POLL_OUT) }
            if revents & Int16(POLLPRI) != 0 { result |= Int32(SLIRP_POLL_PRI) }
            if revents & Int16(POLLERR) != 0 { result |= Int32(SLIRP_POLL_ERR) }
            if revents & Int16(POLLHUP) != 0 { result |= Int32(SLIRP_POLL_HUP) }
            return result
        }, Unmanaged.passUnretained(self).toOpaque())
        let now = Self.nowNanoseconds() / 1_000_000
        for timer in Array(timers.values) where timer.expiry >= 0 && timer.expiry <= now {
            timer.expiry = -1
            timer.callback(timer.argument)
        }
    }

    func input(_ frame: UnsafeRawBufferPointer) {
        guard let slirp, let base = frame.baseAddress else { return }
        swctr_slirp_input(slirp, base.assumingMemoryBound(to: UInt8.self), Int32(frame.count))
    }

    static func nowNanoseconds() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
    }

    static func address(_ text: String) -> in_addr {
        var result = in_addr()
        _ = inet_pton(AF_INET, text, &result)
        return result
    }

    static func address6(_ text: String) -> in6_addr {
        var result = in6_addr()
        _ = inet_pton(AF_INET6, text, &result)
        return result
    }
}
