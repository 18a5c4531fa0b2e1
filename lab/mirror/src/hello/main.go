// Command hello is the collection's sample application, the equivalent of EKS Anywhere's
// hello-eks-a: an HTTP server that answers with a page naming the pod and the node serving it.
// POD_NAME, POD_NAMESPACE, POD_IP and NODE_NAME come from the downward API in its manifest.
package main

import (
	"flag"
	"fmt"
	"html"
	"log"
	"net/http"
	"os"
)

var version = "dev"

func env(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}

func main() {
	listen := flag.String("listen", ":8080", "address to listen on")
	flag.Parse()
	host, _ := os.Hostname()

	http.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		pod := env("POD_NAME", host)
		node := env("NODE_NAME", "unknown")
		if r.URL.Query().Get("format") == "text" {
			fmt.Fprintf(w, "pod=%s node=%s namespace=%s ip=%s version=%s\n",
				pod, node, env("POD_NAMESPACE", "unknown"), env("POD_IP", "unknown"), version)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!DOCTYPE html>
<html><head><title>Hello from airgap.kubernetes</title></head>
<body>
<h1>Hello from airgap.kubernetes</h1>
<p>You reached pod <b id="pod">%s</b> on node <b id="node">%s</b>
(namespace %s, pod IP %s).</p>
<p>Everything this page needed came across the air gap in one bundle.</p>
<p><small>hello %s</small></p>
</body></html>
`, html.EscapeString(pod), html.EscapeString(node), html.EscapeString(env("POD_NAMESPACE", "unknown")),
			html.EscapeString(env("POD_IP", "unknown")), html.EscapeString(version))
	})
	log.Printf("hello %s listening on %s", version, *listen)
	log.Fatal(http.ListenAndServe(*listen, nil))
}
