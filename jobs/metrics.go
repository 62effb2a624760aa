package jobs

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

var (
	descLastOK   = prometheus.NewDesc("porta_job_last_success_timestamp_seconds", "Unix time at which the job's last successful run ended, on any node (0: never).", []string{"job"}, nil)
	descFailures = prometheus.NewDesc("porta_job_failures_total", "Runs of the job that failed, on any node sharing the store.", []string{"job"}, nil)
	descRuns     = prometheus.NewDesc("porta_job_runs_total", "Runs of the job that ended (ok, failed or cancelled), on any node sharing the store.", []string{"job"}, nil)
	descRunning  = prometheus.NewDesc("porta_job_running", "1 while a node holds the job's lease (it is running), else 0.", []string{"job"}, nil)
)

// Collector returns a Prometheus collector of the jobs' shared state, read from the store at
// scrape time, so that every node of a cluster reports the same figures.
func (s *Scheduler) Collector() prometheus.Collector { return collector{s} }

type collector struct{ s *Scheduler }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descLastOK
	ch <- descFailures
	ch <- descRuns
	ch <- descRunning
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	states, err := c.s.Store.JobStates(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(descLastOK, err)
		return
	}
	now := time.Now
	if c.s.Now != nil {
		now = c.s.Now
	}
	known := map[string]int{}
	for i, st := range states {
		known[st.Job] = i
	}
	for _, j := range c.s.Jobs {
		var lastOK, failures, runs, running float64
		if i, ok := known[j.Name]; ok {
			st := states[i]
			if !st.LastOK.IsZero() {
				lastOK = float64(st.LastOK.UnixMicro()) / 1e6
			}
			failures, runs = float64(st.Failures), float64(st.Runs)
			if st.Owner != "" && st.LeaseUntil.After(now()) {
				running = 1
			}
		}
		ch <- prometheus.MustNewConstMetric(descLastOK, prometheus.GaugeValue, lastOK, j.Name)
		ch <- prometheus.MustNewConstMetric(descFailures, prometheus.CounterValue, failures, j.Name)
		ch <- prometheus.MustNewConstMetric(descRuns, prometheus.CounterValue, runs, j.Name)
		ch <- prometheus.MustNewConstMetric(descRunning, prometheus.GaugeValue, running, j.Name)
	}
}
