import Config
import EventLoop
import Foundation
import Harness
import HTTP1
import Proxy
import Routing
import SluiceCore
import XCTest

/// An in-process proxy (real sockets, real workers) in front of scripted
/// backends, on loopback ports picked by the kernel.
final class ProxyFixture: @unchecked Sendable {
    let server: ProxyServer
    var backends: [ScriptedBackend]
    var port: UInt16 { server.boundAddresses[0].port }

    /// `clusters`: name -> backend handler. Routes default to one "predict"
    /// route on /v1/ (active "a", preview "b" when present, 90/10) plus "/"
    /// nowhere (so other paths 404).
    init(backends handlers: [(String, ScriptedBackend.Handler)], routes: [RouteConfig]? = nil, workers: Int = 1,
         tune: (inout SluiceConfig) -> Void = { _ in }) throws {
        var cfg = SluiceConfig()
        cfg.listen = ["127.0.0.1:0"]
        cfg.workers = workers
        var bs: [ScriptedBackend] = []
        for (name, h) in handlers {
            let b = try ScriptedBackend(h)
            bs.append(b)
            cfg.clusters.append(ClusterConfig(name: name, endpoints: [b.address]))
        }
        backends = bs
        cfg.routes = routes ?? [RouteConfig(name: "predict", prefix: "/v1/", active: handlers[0].0,
                                            preview: handlers.count > 1 ? handlers[1].0 : nil,
                                            weights: handlers.count > 1 ? Weights(active: 90, preview: 10)! : Weights(active: 100, preview: 0)!)]
        tune(&cfg)
        server = try ProxyServer(config: cfg)
        server.start()
    }

    deinit {
        server.stop()
        for b in backends { b.stop() }
    }

    func connect(timeout: Int = 10) throws -> (BlockingSocket, MessageReader) {
        let s = try BlockingSocket(connectTo: port, timeoutSeconds: timeout)
        return (s, MessageReader(s))
    }

    /// Sends raw bytes on a new connection and reads one response.
    func exchange(_ raw: String, method: HTTP1.Method = .get) throws -> Response {
        let (s, r) = try connect()
        defer { s.close() }
        try s.write(raw)
        return try Response(r.readResponse(method: method))
    }

    /// Changes a route's weights the way the admin API will: a new snapshot.
    func setWeights(route: String, active: UInt32, preview: UInt32) {
        _ = server.store.update { cur, gen in
            cur.with(route: cur.table.index(named: route)!, weights: Weights(active: active, preview: preview)!, generation: gen)
        }
    }
}

/// A response, decoded for assertions.
struct Response {
    let status: Int
    let headers: [(String, String)]
    let body: [UInt8]
    let head: ResponseHead

    init(_ t: (ResponseHead, [UInt8], [UInt8])) {
        head = t.0
        status = t.0.status
        headers = t.0.h.fields.map { (String(decoding: t.1[$0.nameRange], as: UTF8.self), String(decoding: t.1[$0.valueRange], as: UTF8.self)) }
        body = t.2
    }

    func header(_ name: String) -> String? { headers.first { $0.0.lowercased() == name.lowercased() }?.1 }
    var text: String { String(decoding: body, as: UTF8.self) }
}

/// A backend that answers 200 with a JSON body naming `version`.
func versionBackend(_ version: String) -> ScriptedBackend.Handler {
    return { req, res in
        res.respond(headers: [("Content-Type", "application/json"), ("X-Seen-Path", req.target)],
                    body: Array("{\"version\":\"\(version)\"}".utf8))
    }
}

/// A backend that echoes the request body, with request facts in headers.
let echoBackend: ScriptedBackend.Handler = { req, res in
    res.respond(headers: [("X-Method", req.method), ("X-Body-Length", "\(req.body.count)"),
                          ("X-Connection", "\(req.connection)"),
                          ("X-Forwarded-For-Seen", req.header("x-forwarded-for") ?? "-"),
                          ("X-Request-Id-Seen", req.header("x-request-id") ?? "-"),
                          ("X-Proto-Seen", req.header("x-forwarded-proto") ?? "-"),
                          ("X-TE-Seen", req.header("transfer-encoding") ?? "-"),
                          ("X-Hop-Seen", req.header("x-hop") ?? "-"),
                          ("X-Keep-Alive-Seen", req.header("keep-alive") ?? "-")],
                body: req.body)
}

func get(_ path: String, _ extra: String = "") -> String { "GET \(path) HTTP/1.1\r\nHost: t\r\n\(extra)\r\n" }
