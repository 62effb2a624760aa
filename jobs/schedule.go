package jobs

import (
	"fmt"
	"time"
)

// Schedule says when a job is due: every Every, counted from At past midnight each day (in Loc,
// default the node's local time zone). every: 15m runs at :00, :15, :30 and :45; every: 24h
// with at: 02:30 runs nightly at 02:30; every: 7h runs at 00:00, 07:00, 14:00 and 21:00, the
// count starting again each midnight, as cron's hour lists do.
type Schedule struct {
	Every time.Duration // more than 0, at most 24h
	At    time.Duration // offset from midnight, less than 24h
	Loc   *time.Location
}

// Check reports a schedule Next cannot follow.
func (s Schedule) Check() error {
	if s.Every <= 0 || s.Every > 24*time.Hour {
		return fmt.Errorf("every %v: want more than 0 and at most 24h", s.Every)
	}
	if s.At < 0 || s.At >= 24*time.Hour {
		return fmt.Errorf("at %v: want a time of day from 00:00 to 23:59", s.At)
	}
	return nil
}

// Next returns the first slot of the schedule strictly after t.
func (s Schedule) Next(t time.Time) time.Time {
	if s.Check() != nil {
		return time.Time{}
	}
	loc := s.Loc
	if loc == nil {
		loc = time.Local
	}
	lt := t.In(loc)
	anchor := time.Date(lt.Year(), lt.Month(), lt.Day(), 0, 0, 0, 0, loc).Add(s.At)
	if anchor.After(t) {
		y, m, d := lt.AddDate(0, 0, -1).Date()
		anchor = time.Date(y, m, d, 0, 0, 0, 0, loc).Add(s.At)
	}
	next := anchor.Add((t.Sub(anchor)/s.Every + 1) * s.Every)
	// The count starts again at the next day's anchor.
	y, m, d := anchor.In(loc).AddDate(0, 0, 1).Date()
	if tomorrow := time.Date(y, m, d, 0, 0, 0, 0, loc).Add(s.At); next.After(tomorrow) {
		next = tomorrow
	}
	return next
}
