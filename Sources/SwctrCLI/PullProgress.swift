import ImageReference
import ImageStore
import Registry
import SystemSupport
#if canImport(Glibc)
import Glibc
#endif

/// Shows a pull's progress on stderr: on a terminal, one live line per layer with a bar, redrawn
/// in place; elsewhere, a line per step (a log stays readable); with `quiet`, nothing.
final class PullProgress: @unchecked Sendable {
    enum Mode { case terminal, lines, quiet }

    private struct Row {
        var digest: Digest
        var total: Int64
        var received: Int64 = 0
        var state = "Waiting"
    }

    private let mode: Mode
    private let lock = Lock()
    private var rows: [Row] = []
    private var drawnLines = 0
    private var lastDraw: Double = 0

    init(quiet: Bool) {
        if quiet { mode = .quiet } else { mode = isatty(STDERR_FILENO) == 1 && getenv("TERM").map { String(cString: $0) } != "dumb" ? .terminal : .lines }
    }

    var handler: @Sendable (PullEvent) -> Void { { [self] event in lock.withLock { handle(event) } } }

    /// A line that is not about a layer (placed above the live rows).
    func note(_ line: String) {
        guard mode != .quiet else { return }
        lock.withLock {
            erase()
            printError(line)
            draw(force: true)
        }
    }

    private func handle(_ event: PullEvent) {
        switch event {
        case .sourceFailed(let source, let reason):
            erase()
            printError("swctr: warning: \(source) failed (\(reason)); trying the next source")
            draw(force: true)
        case .layers(let layers):
            rows = layers.map { Row(digest: $0.digest, total: $0.size) }
            if mode == .lines {
                let total = layers.reduce(Int64(0)) { $0 + $1.size }
                printError("Image has \(layers.count) layer\(layers.count == 1 ? "" : "s"), \(ImageStore.formatSize(total))")
            }
            draw(force: true)
        case .layerPresent(let digest):
            update(digest, state: "Already exists", line: "Layer \(short(digest)) already exists")
        case .blobPresent(let digest):
            update(digest, state: "Blob stored", line: nil)
        case .blobProgress(let digest, let received, _):
            guard let index = rows.firstIndex(where: { $0.digest == digest }) else { return }
            if rows[index].received == 0 && received > 0 && mode == .lines {
                printError("Copying blob \(short(digest)) (\(ImageStore.formatSize(rows[index].total)))")
            }
            rows[index].received = received
            rows[index].state = "Downloading"
            draw(force: false)
        case .blobDownloaded(let digest):
            update(digest, state: "Verified", line: nil)
        case .layerUnpacking(let digest):
            update(digest, state: "Extracting", line: nil)
        case .layerDone(let digest):
            update(digest, state: "Pull complete", line: "Layer \(short(digest)) done")
        case .finished(let manifest):
            draw(force: true)
            if mode != .quiet { printError("Digest: \(manifest)") }
            drawnLines = 0
        }
    }

    private func short(_ digest: Digest) -> String { String(digest.description.prefix(19)) }

    private func update(_ digest: Digest, state: String, line: String?) {
        if let index = rows.firstIndex(where: { $0.digest == digest }) { rows[index].state = state }
        if mode == .lines, let line { printError(line) }
        draw(force: true)
    }

    /// Moves the cursor back over the live rows and clears them.
    private func erase() {
        guard mode == .terminal, drawnLines > 0 else { return }
        try? FileDescriptor.standardError.writeAll("\u{1B}[\(drawnLines)A\u{1B}[J")
        drawnLines = 0
    }

    /// Redraws the live rows (at most ten times a second unless `force`).
    private func draw(force: Bool) {
        guard mode == .terminal, !rows.isEmpty else { return }
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        let seconds = Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
        if !force && seconds - lastDraw < 0.1 { return }
        lastDraw = seconds
        var text = drawnLines > 0 ? "\u{1B}[\(drawnLines)A" : ""
        for row in rows {
            var line = "\(short(row.digest)): \(row.state)"
            if row.state == "Downloading" && row.total > 0 {
                let width = 30
                let filled = Int(Double(width) * Double(row.received) / Double(row.total))
                let bar = String(repeating: "=", count: max(filled - 1, 0)) + (filled > 0 ? ">" : "") + String(repeating: " ", count: width - max(filled, 0))
                line += " [\(bar)] \(ImageStore.formatSize(row.received))/\(ImageStore.formatSize(row.total))"
            }
            text += "\u{1B}[2K" + line + "\n"
        }
        try? FileDescriptor.standardError.writeAll(text)
        drawnLines = rows.count
    }
}
