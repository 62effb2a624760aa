package listen

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
)

func TestReservedHoldsUntilTakenOver(t *testing.T) {
	r := NewReserved()
	defer r.Close()
	addrs, err := r.Addrs(20)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, a := range addrs {
		if seen[a] {
			t.Fatalf("address %s handed out twice", a)
		}
		seen[a] = true
		// Held: nobody else can bind it meanwhile.
		if l, err := net.Listen("tcp", a); err == nil {
			l.Close()
			t.Fatalf("%s could be bound by another listener while reserved", a)
		}
	}
	l, err := r.Listen("tcp", addrs[0])
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if l.Addr().String() != addrs[0] || r.Holds(addrs[0]) {
		t.Fatalf("Listen(%s) gave %s, still held %v", addrs[0], l.Addr(), r.Holds(addrs[0]))
	}
	go func() {
		c, err := l.Accept()
		if err == nil {
			fmt.Fprintln(c, "hello")
			c.Close()
		}
	}()
	c, err := net.Dial("tcp", addrs[0])
	if err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(c).ReadString('\n')
	c.Close()
	if line != "hello\n" {
		t.Fatalf("read %q from the handed-over listener", line)
	}
	// An address not held is bound normally.
	o, err := r.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	o.Close()
}

// TestMain doubles as the child of TestActivateChild: with PORTA_LISTEN_CHILD set it takes its
// activated sockets and answers one connection on each with the socket's name.
func TestMain(m *testing.M) {
	if os.Getenv("PORTA_LISTEN_CHILD") == "" {
		os.Exit(m.Run())
	}
	ls, err := Inherited()
	if err != nil || len(ls) == 0 {
		fmt.Println("no sockets:", err)
		os.Exit(3)
	}
	if os.Getenv(envPID) != "" {
		fmt.Println("LISTEN_PID left for children")
		os.Exit(4)
	}
	var names []string
	for n := range ls {
		names = append(names, n)
	}
	fmt.Println("ready", strings.Join(names, ","))
	done := make(chan bool)
	for n, l := range ls {
		go func() {
			c, err := l.Accept()
			if err == nil {
				fmt.Fprintln(c, n)
				c.Close()
			}
			done <- true
		}()
	}
	for range ls {
		<-done
	}
	os.Exit(0)
}

func TestActivateChild(t *testing.T) {
	r := NewReserved()
	defer r.Close()
	addrs, err := r.Addrs(2)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]*os.File{}
	for i, n := range []string{"pd", "pa"} {
		f, err := r.File(addrs[i])
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		files[n] = f
	}
	exe, _ := os.Executable()
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), "PORTA_LISTEN_CHILD=1")
	if err := Activate(cmd, []string{"pd", "pa"}, files); err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	line, _ := bufio.NewReader(out).ReadString('\n')
	if !strings.HasPrefix(line, "ready ") {
		cmd.Process.Kill()
		t.Fatalf("child: %q", line)
	}
	for i, want := range []string{"pd", "pa"} {
		c, err := net.Dial("tcp", addrs[i])
		if err != nil {
			t.Fatal(err)
		}
		got, _ := bufio.NewReader(c).ReadString('\n')
		c.Close()
		if got != want+"\n" {
			t.Fatalf("%s answered %q, want the child's %q socket", addrs[i], got, want)
		}
	}
}

func TestInheritedIgnoresOtherProcess(t *testing.T) {
	t.Setenv(envPID, "1")
	t.Setenv(envFDs, "1")
	ls, err := Inherited()
	if err != nil || ls != nil {
		t.Fatalf("Inherited for another pid: %v, %v", ls, err)
	}
}
