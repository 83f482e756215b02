import Foundation

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// One HTTP answer: status, headers (looked up case-insensitively) and the whole body.
struct HTTPResponse: Sendable {
    var status: Int
    var headers: [String: String]
    var body: Data

    func header(_ name: String) -> String? {
        let lower = name.lowercased()
        return headers.first { $0.key.lowercased() == lower }?.value
    }
}

/// Blocking HTTP over one `URLSession` (libcurl on Linux) with a stall watchdog.
///
/// The calling thread waits; a request during which no byte is sent or received for
/// `stallTimeout` seconds is cancelled and reported as `URLError(.timedOut)`.
final class HTTPTransport: NSObject, URLSessionDataDelegate, @unchecked Sendable {
    private final class Exchange: @unchecked Sendable {
        var data = Data()
        var response: HTTPURLResponse?
        var error: Error?
        var lastProgress = Date()
        let done = DispatchSemaphore(value: 0)
    }

    private let lock = NSLock()
    private var exchanges: [Int: Exchange] = [:]
    private var session: URLSession!

    override init() {
        super.init()
        let config = URLSessionConfiguration.ephemeral
        config.httpMaximumConnectionsPerHost = 64
        config.timeoutIntervalForRequest = 86_400  // the watchdog below enforces the stall timeout
        config.timeoutIntervalForResource = 7 * 86_400
        config.urlCache = nil
        config.httpCookieStorage = nil
        let queue = OperationQueue()
        queue.maxConcurrentOperationCount = 1
        session = URLSession(configuration: config, delegate: self, delegateQueue: queue)
    }

    /// Ends the session after running tasks finish (breaks the session → delegate cycle).
    func invalidate() { session.finishTasksAndInvalidate() }

    /// Sends `request` (with `body` as an upload when given) and waits for the whole answer.
    /// - Throws: the transport's `URLError`; `URLError(.timedOut)` when the request stalls.
    func run(_ request: URLRequest, body: Data?, stallTimeout: Double) throws -> HTTPResponse {
        var request = request
        request.timeoutInterval = 86_400
        let task = body.map { session.uploadTask(with: request, from: $0) } ?? session.dataTask(with: request)
        let ex = Exchange()
        lock.withLock { exchanges[task.taskIdentifier] = ex }
        task.resume()
        let tick = max(0.02, min(1.0, stallTimeout / 4))
        var stalled = false
        while ex.done.wait(timeout: .now() + tick) == .timedOut {
            let idle = lock.withLock { Date().timeIntervalSince(ex.lastProgress) }
            if idle > stallTimeout, !stalled {
                stalled = true
                task.cancel()
            }
        }
        lock.withLock { _ = exchanges.removeValue(forKey: task.taskIdentifier) }
        if stalled { throw URLError(.timedOut) }
        if let error = ex.error { throw error }
        guard let response = ex.response else { throw URLError(.badServerResponse) }
        var headers: [String: String] = [:]
        for (k, v) in response.allHeaderFields {
            if let k = k as? String, let v = v as? String { headers[k] = v }
        }
        return HTTPResponse(status: response.statusCode, headers: headers, body: ex.data)
    }

    private func exchange(_ task: URLSessionTask) -> Exchange? {
        lock.withLock { exchanges[task.taskIdentifier] }
    }

    func urlSession(
        _ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
        completionHandler: @escaping (URLSession.ResponseDisposition) -> Void
    ) {
        if let ex = exchange(dataTask) {
            lock.withLock {
                ex.response = response as? HTTPURLResponse
                ex.lastProgress = Date()
            }
        }
        completionHandler(.allow)
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
        if let ex = exchange(dataTask) {
            lock.withLock {
                ex.data.append(data)
                ex.lastProgress = Date()
            }
        }
    }

    func urlSession(
        _ session: URLSession, task: URLSessionTask, didSendBodyData bytesSent: Int64,
        totalBytesSent: Int64, totalBytesExpectedToSend: Int64
    ) {
        if let ex = exchange(task) { lock.withLock { ex.lastProgress = Date() } }
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: Error?) {
        guard let ex = exchange(task) else { return }
        lock.withLock {
            ex.error = error
            if ex.response == nil { ex.response = task.response as? HTTPURLResponse }
        }
        ex.done.signal()
    }
}
