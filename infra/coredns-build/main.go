// CoreDNS with only the plugins the lab's Corefile uses, the way CoreDNS documents a custom build: a
// small main that imports the plugins it wants and runs coremain, at the pinned release (go.mod).
//
// Why: the stock binary links every plugin CoreDNS ships (the Kubernetes client, cloud SDKs, etcd,
// ...). Building it from empty Go caches took 2.5 min and most of a cold `make up`; this one takes
// about one. The online path keeps the upstream image; the Corefile loads with either.
//
// To add a plugin: import it below and name it in infra/coredns/Corefile. The directive order stays
// upstream's (core/dnsserver/zdirectives.go, generated from plugin.cfg): init() keeps that list and
// only drops the directives no imported plugin registered, so the order can never drift from the
// release's. tests/integration/test_coredns_build.py checks that the Corefile's directives and this
// binary's plugins agree and that each one works.
package main

import (
	"strings"

	"github.com/coredns/caddy"
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/file"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/metrics" // the `prometheus` directive
	_ "github.com/coredns/coredns/plugin/ready"
)

func init() {
	registered := map[string]bool{}
	for _, name := range caddy.ListPlugins()["others"] {
		registered[strings.TrimPrefix(name, "dns.")] = true
	}
	kept := make([]string, 0, len(registered))
	for _, directive := range dnsserver.Directives {
		if registered[directive] {
			kept = append(kept, directive)
		}
	}
	dnsserver.Directives = kept
}

func main() { coremain.Run() }
