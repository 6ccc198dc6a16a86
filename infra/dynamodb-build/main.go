// dnsrace-dynamodb: the lab's DynamoDB storage node.
//
// The DynamoDB JSON API itself is github.com/truora/minidyn's server package (PutItem, GetItem,
// UpdateItem with ConditionExpression, Query, Scan, Transact*, ...), not code written here. This
// main only gives it what a real partition has and an in-process test double does not: finite
// capacity. At most CONCURRENCY requests are served at once; each holds its slot for SERVICE_MS
// (plus minidyn's own time), so the node's capacity is CONCURRENCY / SERVICE_MS requests a second.
// A request waits for a slot in arrival order; a request whose client has gone (the connection
// closed) leaves the wait without being served, as a cancelled request would at a real front door.
//
//	GET  /healthz  200 "ok"             (compose's healthcheck)
//	GET  /stats    {"in_flight", "waiting", "served", "abandoned", "concurrency", "service_ms"}
//	POST /         the DynamoDB JSON API (X-Amz-Target: DynamoDB_20120810.<Operation>)
package main

import (
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/truora/minidyn/server"
)

type capacity struct {
	slots     chan struct{}
	service   time.Duration
	inFlight  atomic.Int64
	waiting   atomic.Int64
	served    atomic.Int64
	abandoned atomic.Int64
	next      http.Handler
}

func (c *capacity) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/healthz":
		fmt.Fprintln(w, "ok")
		return
	case "/stats":
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"in_flight": c.inFlight.Load(), "waiting": c.waiting.Load(), "served": c.served.Load(),
			"abandoned": c.abandoned.Load(), "concurrency": cap(c.slots), "service_ms": c.service.Milliseconds(),
		})
		return
	}
	c.waiting.Add(1)
	select {
	case c.slots <- struct{}{}:
		c.waiting.Add(-1)
	case <-r.Context().Done():
		c.waiting.Add(-1)
		c.abandoned.Add(1)
		return
	}
	c.inFlight.Add(1)
	defer func() { c.inFlight.Add(-1); <-c.slots }()
	time.Sleep(c.service)
	c.next.ServeHTTP(w, r)
	c.served.Add(1)
}

func envInt(name string, fallback, minimum, maximum int) int {
	raw := os.Getenv(name)
	if raw == "" {
		return fallback
	}
	value, err := strconv.Atoi(raw)
	if err != nil || value < minimum || value > maximum {
		log.Fatalf("dnsrace-dynamodb: %s=%q: must be a whole number from %d to %d", name, raw, minimum, maximum)
	}
	return value
}

func main() {
	port := envInt("PORT", 8000, 1, 65535)
	concurrency := envInt("CONCURRENCY", 8, 1, 10000)
	serviceMs := envInt("SERVICE_MS", 50, 0, 60000)
	node := &capacity{slots: make(chan struct{}, concurrency), service: time.Duration(serviceMs) * time.Millisecond,
		next: server.NewServer()}
	log.Printf(`{"service":"dynamodb","kind":"dynamodb_started","detail":{"port":%d,"concurrency":%d,"service_ms":%d,"capacity_per_s":%.1f}}`,
		port, concurrency, serviceMs, float64(concurrency)*1000/float64(max(serviceMs, 1)))
	srv := &http.Server{Addr: fmt.Sprintf(":%d", port), Handler: node, ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.ListenAndServe())
}
