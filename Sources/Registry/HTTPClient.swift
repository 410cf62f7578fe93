import CCurl
import SystemSupport
#if canImport(Glibc)
import Glibc
#endif

/// One HTTP response: status and headers (names lowercased); the body went to the request's sink.
public struct HTTPResponse {
    public let status: Int
    public let headers: [String: String]
    public let effectiveURL: String
    /// The body of a non-2xx answer (bounded); 2xx bodies go to the request's sink instead.
    public let errorBody: [UInt8]
}

/// Why a request did not get an HTTP response at all.
public struct HTTPTransportError: Error {
    public let url: String
    public let code: Int32
    public let message: String
    /// True when the failure was in the TLS handshake (the server may speak plain HTTP).
    public var isTLSFailure: Bool {
        code == Int32(CURLE_SSL_CONNECT_ERROR.rawValue) || code == Int32(CURLE_PEER_FAILED_VERIFICATION.rawValue)
            || code == Int32(CURLE_SSL_CERTPROBLEM.rawValue) || code == Int32(CURLE_RECV_ERROR.rawValue)
            || code == Int32(CURLE_SEND_ERROR.rawValue) || code == Int32(CURLE_GOT_NOTHING.rawValue)
            || code == Int32(CURLE_SSL_CACERT_BADFILE.rawValue) || code == Int32(CURLE_WEIRD_SERVER_REPLY.rawValue)
    }
}

/// A request body: bytes in memory, or a file read from its start.
enum HTTPBody {
    case bytes([UInt8])
    case file(FileDescriptor, size: Int64)

    var size: Int64 {
        switch self {
        case .bytes(let bytes): return Int64(bytes.count)
        case .file(_, let size): return size
        }
    }
}

/// A small synchronous HTTP client over libcurl: one handle, kept connections, streamed bodies.
final class HTTPClient {
    /// nil when libcurl could not be loaded (`loadError` says why; requests fail with it).
    private let handle: UnsafeMutableRawPointer?
    private let loadError: String?
    var verifyTLS = true

    init() {
        var error = [CChar](repeating: 0, count: 256)
        if swctr_curl_load(&error, error.count) == 0 {
            handle = swctr_curl_easy_init()
            loadError = handle == nil ? "curl_easy_init failed" : nil
        } else {
            handle = nil
            loadError = String(decoding: error.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
    }

    deinit { if let handle { swctr_curl_easy_cleanup(handle) } }

    /// Receives the body as it streams; returning false aborts the transfer.
    typealias BodySink = (UnsafeRawBufferPointer) -> Bool

    private final class TransferState {
        var headers: [String: String] = [:]
        var status = 0
        var errorBody: [UInt8] = []
        var sink: BodySink
        var aborted = false
        var body: HTTPBody?
        var bodyOffset = 0
        init(sink: @escaping BodySink, body: HTTPBody?) {
            self.sink = sink
            self.body = body
        }

        /// Fills `buffer` with the next bytes of the body; 0 at its end.
        func readBody(into buffer: UnsafeMutableRawBufferPointer) -> Int {
            switch body {
            case .bytes(let bytes):
                let count = min(buffer.count, bytes.count - bodyOffset)
                bytes.withUnsafeBytes { source in
                    buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: source[bodyOffset..<bodyOffset + count]))
                }
                bodyOffset += count
                return count
            case .file(let fd, _):
                while true {
                    let n = Glibc.read(fd.rawValue, buffer.baseAddress, buffer.count)
                    if n < 0 && errno == EINTR { continue }
                    return n < 0 ? Int(CURL_READFUNC_ABORT) : n
                }
            case nil:
                return 0
            }
        }
    }

    func request(_ url: String, method: String = "GET", headers: [String] = [], body: HTTPBody? = nil, followRedirects: Bool = true,
                 sink: @escaping BodySink) throws(HTTPTransportError) -> HTTPResponse {
        guard let handle else {
            throw HTTPTransportError(url: url, code: Int32(CURLE_FAILED_INIT.rawValue),
                                     message: "libcurl cannot be loaded (\(loadError ?? "unknown")): install libcurl4 (apt install libcurl4)")
        }
        swctr_curl_easy_reset(handle)
        let state = TransferState(sink: sink, body: body)
        let unmanaged = Unmanaged.passRetained(state)
        defer { unmanaged.release() }
        var errorBuffer = [CChar](repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        var headerList: UnsafeMutablePointer<curl_slist>?
        for header in headers { headerList = swctr_curl_slist_append(headerList, header) }
        defer { swctr_curl_slist_free_all(headerList) }

        let code: CURLcode = errorBuffer.withUnsafeMutableBufferPointer { errorPointer in
            swctr_curl_setopt_string(handle, CURLOPT_URL, url)
            swctr_curl_setopt_long(handle, CURLOPT_NOSIGNAL, 1)
            swctr_curl_setopt_long(handle, CURLOPT_FOLLOWLOCATION, followRedirects ? 1 : 0)
            swctr_curl_setopt_long(handle, CURLOPT_MAXREDIRS, 10)
            swctr_curl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT, 15)
            // A stalled transfer (under 1 KiB/s for 60 s) fails rather than hanging forever.
            swctr_curl_setopt_long(handle, CURLOPT_LOW_SPEED_LIMIT, 1024)
            swctr_curl_setopt_long(handle, CURLOPT_LOW_SPEED_TIME, 60)
            swctr_curl_setopt_string(handle, CURLOPT_USERAGENT, "swctr/0.1")
            swctr_curl_setopt_pointer(handle, CURLOPT_ERRORBUFFER, errorPointer.baseAddress)
            if !verifyTLS {
                swctr_curl_setopt_long(handle, CURLOPT_SSL_VERIFYPEER, 0)
                swctr_curl_setopt_long(handle, CURLOPT_SSL_VERIFYHOST, 0)
            }
            if method == "HEAD" {
                swctr_curl_setopt_long(handle, CURLOPT_NOBODY, 1)
            } else if method != "GET" {
                swctr_curl_setopt_string(handle, CURLOPT_CUSTOMREQUEST, method)
            }
            if let body {
                // Sent as an upload (any method), with its length known up front.
                swctr_curl_setopt_long(handle, CURLOPT_UPLOAD, 1)
                swctr_curl_setopt_offset(handle, CURLOPT_INFILESIZE_LARGE, curl_off_t(body.size))
                swctr_curl_setopt_pointer(handle, CURLOPT_READDATA, unmanaged.toOpaque())
                swctr_curl_setopt_read_function(handle) { data, size, count, context in
                    let state = Unmanaged<TransferState>.fromOpaque(context!).takeUnretainedValue()
                    return state.readBody(into: UnsafeMutableRawBufferPointer(start: data, count: size * count))
                }
            }
            if let headerList { swctr_curl_setopt_pointer(handle, CURLOPT_HTTPHEADER, UnsafeMutableRawPointer(headerList)) }
            swctr_curl_setopt_pointer(handle, CURLOPT_WRITEDATA, unmanaged.toOpaque())
            swctr_curl_setopt_pointer(handle, CURLOPT_HEADERDATA, unmanaged.toOpaque())
            swctr_curl_setopt_write_function(handle) { data, size, count, context in
                let state = Unmanaged<TransferState>.fromOpaque(context!).takeUnretainedValue()
                let length = size * count
                let chunk = UnsafeRawBufferPointer(start: data, count: length)
                if !(200..<300).contains(state.status) {
                    if state.errorBody.count < 65536 { state.errorBody.append(contentsOf: chunk) }
                    return length
                }
                if state.sink(chunk) { return length }
                state.aborted = true
                return 0
            }
            swctr_curl_setopt_header_function(handle) { data, size, count, context in
                let state = Unmanaged<TransferState>.fromOpaque(context!).takeUnretainedValue()
                let length = size * count
                let line = String(decoding: UnsafeRawBufferPointer(start: data, count: length), as: UTF8.self)
                if line.hasPrefix("HTTP/") {
                    state.headers = [:]  // a new response (after a redirect or 100-continue)
                    let fields = line.split(separator: " ")
                    state.status = fields.count > 1 ? Int(fields[1]) ?? 0 : 0
                } else if let colon = line.firstIndex(of: ":") {
                    let name = line[..<colon].lowercased()
                    let value = line[line.index(after: colon)...].trimmingCharacters(in: " \t\r\n")
                    state.headers[name] = value
                }
                return length
            }
            return swctr_curl_easy_perform(handle)
        }
        if code != CURLE_OK && !(state.aborted && code == CURLE_WRITE_ERROR) {
            let detail = String(decoding: errorBuffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            let message = detail.isEmpty ? String(cString: swctr_curl_easy_strerror(code)) : detail
            throw HTTPTransportError(url: url, code: Int32(code.rawValue), message: message)
        }
        var status = 0
        swctr_curl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        var effective: UnsafeMutableRawPointer?
        swctr_curl_getinfo_pointer(handle, CURLINFO_EFFECTIVE_URL, &effective)
        let effectiveURL = effective.map { String(cString: $0.assumingMemoryBound(to: CChar.self)) } ?? url
        return HTTPResponse(status: status, headers: state.headers, effectiveURL: effectiveURL, errorBody: state.errorBody)
    }

    /// GET into memory, bounded.
    func fetch(_ url: String, headers: [String] = [], limit: Int) throws(HTTPTransportError) -> (HTTPResponse, [UInt8]) {
        var body: [UInt8] = []
        let response = try request(url, headers: headers) { chunk in
            if body.count + chunk.count > limit { return false }
            body.append(contentsOf: chunk)
            return true
        }
        return (response, body)
    }
}

extension StringProtocol {
    func trimmingCharacters(in set: String) -> String {
        let characters = Set(set)
        var slice = Substring(self)
        while let first = slice.first, characters.contains(first) { slice = slice.dropFirst() }
        while let last = slice.last, characters.contains(last) { slice = slice.dropLast() }
        return String(slice)
    }
}
