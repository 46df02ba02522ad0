// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package controllers

import (
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	chatv1 "github.com/chathub/chathub/api/v1"
)

// BenchmarkScale measures, in envtest with the PubSub service, how long N
// embedded ChatHubs spread over 5 namespaces take to have all their objects
// and a registered handler (the registration step runs after every object is
// applied), the reconciles per second, and the test process's heap (manager,
// API clients and the in-process PubSub services together).
//
//	KUBEBUILDER_ASSETS=$PWD/bin/k8s go test ./controllers -run '^$' -bench BenchmarkScale -benchtime 1x
func BenchmarkScale(b *testing.B) {
	for _, n := range []int{100, 500} {
		b.Run(fmt.Sprintf("hubs=%d", n), func(b *testing.B) {
			for range b.N {
				runScale(b, n)
			}
		})
	}
}

func runScale(b *testing.B, n int) {
	const namespaces = 5
	var nss []string
	for range namespaces {
		nss = append(nss, newNamespace(b))
	}
	reconcilesBefore := reconcileTotal(b)
	start := time.Now()

	work := make(chan int)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for i := range work {
				mustCreate(b, embeddedHub(fmt.Sprintf("hub-%d", i), nss[i%namespaces]))
			}
		})
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
	created := time.Since(start)

	eventually(b, 10*time.Minute, "every ChatHub registered", func() error {
		ready := 0
		for _, ns := range nss {
			var list chatv1.ChatHubList
			if err := suite.client.List(suite.ctx, &list, client.InNamespace(ns)); err != nil {
				return err
			}
			for _, h := range list.Items {
				c := meta.FindStatusCondition(h.Status.Conditions, chatv1.ConditionEventHandlerRegistered)
				if c != nil && c.Status == "True" && c.ObservedGeneration == h.Generation {
					ready++
				}
			}
		}
		if ready < n {
			return fmt.Errorf("%d of %d registered", ready, n)
		}
		return nil
	})
	elapsed := time.Since(start)
	reconciles := reconcileTotal(b) - reconcilesBefore
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)

	b.ReportMetric(elapsed.Seconds(), "s-all-registered")
	b.ReportMetric(created.Seconds(), "s-to-create")
	b.ReportMetric(reconciles, "reconciles")
	b.ReportMetric(reconciles/elapsed.Seconds(), "reconciles/s")
	b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "MiB-heap-inuse")
	b.ReportMetric(float64(ms.Sys)/(1<<20), "MiB-sys")
}

// reconcileTotal reads controller-runtime's reconcile counter for the
// ChatHub controller.
func reconcileTotal(b *testing.B) float64 {
	families, err := metrics.Registry.Gather()
	if err != nil {
		b.Fatal(err)
	}
	total := 0.0
	for _, f := range families {
		if f.GetName() != "controller_runtime_reconcile_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "controller" && l.GetValue() == "chathub" {
					total += m.GetCounter().GetValue()
				}
			}
		}
	}
	return total
}
