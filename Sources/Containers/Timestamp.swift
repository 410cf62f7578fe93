#if canImport(Glibc)
import Glibc
#endif

/// Wall-clock times as swctr stores and prints them: seconds since the epoch (Double), written
/// as RFC 3339 in UTC with nanoseconds, as Docker's logs and inspect do.
public enum Timestamp {
    public static var now: Double {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
    }

    public static func rfc3339(_ time: Double) -> String {
        var seconds = time_t(time.rounded(.down))
        let nanoseconds = Int(((time - Double(seconds)) * 1e9).rounded(.down))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        let fraction = String(nanoseconds)
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2))."
            + String(repeating: "0", count: 9 - fraction.count) + fraction + "Z"
    }

    /// Parses RFC 3339 (`2026-11-24T10:00:00Z`, fractions and ±hh:mm offsets allowed), a Unix time
    /// (`1732440000.5`), or a duration back from now (`10m`, `1h30m`, `45s`), as `--since` takes.
    public static func parse(_ text: String, relativeTo reference: Double = now) -> Double? {
        if let number = Double(text) { return number }
        if let duration = parseDuration(text) { return reference - duration }
        let characters = Array(text.utf8)
        guard characters.count >= 19 else { return nil }
        func number(_ range: Range<Int>) -> Int32? {
            guard range.upperBound <= characters.count else { return nil }
            return Int32(String(decoding: characters[range], as: UTF8.self))
        }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
              let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19) else { return nil }
        var parts = tm()
        parts.tm_year = year - 1900
        parts.tm_mon = month - 1
        parts.tm_mday = day
        parts.tm_hour = hour
        parts.tm_min = minute
        parts.tm_sec = second
        var result = Double(timegm(&parts))
        var index = 19
        if index < characters.count && characters[index] == UInt8(ascii: ".") {
            var end = index + 1
            while end < characters.count && characters[end] >= 48 && characters[end] <= 57 { end += 1 }
            result += Double("0" + String(decoding: characters[index..<end], as: UTF8.self)) ?? 0
            index = end
        }
        if index < characters.count && (characters[index] == UInt8(ascii: "+") || characters[index] == UInt8(ascii: "-")) {
            guard let hours = number(index + 1..<index + 3), let minutes = number(index + 4..<index + 6) else { return nil }
            let offset = Double(hours * 3600 + minutes * 60)
            result += characters[index] == UInt8(ascii: "+") ? -offset : offset
        }
        return result
    }

    /// `1h30m`, `10m`, `45s`, `2.5s`: seconds; nil if not a duration.
    public static func parseDuration(_ text: String) -> Double? {
        var total = 0.0
        var digits = ""
        var sawUnit = false
        for character in text {
            if character.isNumber || character == "." {
                digits.append(character)
                continue
            }
            guard let value = Double(digits) else { return nil }
            switch character {
            case "h": total += value * 3600
            case "m": total += value * 60
            case "s": total += value
            default: return nil
            }
            digits = ""
            sawUnit = true
        }
        return sawUnit && digits.isEmpty ? total : nil
    }

    /// "3 seconds", "About a minute", "2 hours": Docker's human durations.
    public static func humanDuration(_ seconds: Double) -> String {
        let value = Int(seconds)
        if value < 1 { return "Less than a second" }
        if value == 1 { return "1 second" }
        if value < 60 { return "\(value) seconds" }
        let minutes = value / 60
        if minutes == 1 { return "About a minute" }
        if minutes < 60 { return "\(minutes) minutes" }
        let hours = minutes / 60
        if hours == 1 { return "About an hour" }
        if hours < 48 { return "\(hours) hours" }
        let days = hours / 24
        if days < 14 { return "\(days) days" }
        if days < 60 { return "\(days / 7) weeks" }
        if days < 730 { return "\(days / 30) months" }
        return "\(days / 365) years"
    }
}
