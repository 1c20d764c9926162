//go:build !linux

package netns

import (
	"errors"
	"syscall"
)

// namespaceAttr has no namespace to offer: network namespaces are Linux's,
// so Isolate skips (or fails under CI).
func namespaceAttr() (*syscall.SysProcAttr, error) {
	return nil, errors.New("network namespaces need Linux")
}

func loopbackUp() error { return errors.New("network namespaces need Linux") }
