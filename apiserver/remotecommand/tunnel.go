package remotecommand

import (
	"errors"
	"io"
	"net"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// tunnelConn is a net.Conn over a WebSocket: each binary message carries a
// piece of the byte stream (kubectl's SPDY-over-WebSocket tunnel).
type tunnelConn struct {
	ws *websocket.Conn

	rmu sync.Mutex
	cur io.Reader // the message being read

	wmu       sync.Mutex
	closeOnce sync.Once
}

var _ net.Conn = (*tunnelConn)(nil)

func newTunnelConn(ws *websocket.Conn) *tunnelConn { return &tunnelConn{ws: ws} }

func (c *tunnelConn) Read(p []byte) (int, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	for {
		if c.cur == nil {
			typ, r, err := c.ws.NextReader()
			if err != nil {
				var ce *websocket.CloseError
				if errors.As(err, &ce) && ce.Code == websocket.CloseNormalClosure {
					return 0, io.EOF
				}
				return 0, err
			}
			if typ != websocket.BinaryMessage {
				return 0, errors.New("tunnel: unexpected text message")
			}
			c.cur = r
		}
		n, err := c.cur.Read(p)
		if err == io.EOF {
			c.cur = nil
			if n == 0 {
				continue
			}
			err = nil
		}
		return n, err
	}
}

func (c *tunnelConn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.ws.WriteMessage(websocket.BinaryMessage, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Close says goodbye with a normal close frame, then closes the socket.
func (c *tunnelConn) Close() error {
	var err error
	c.closeOnce.Do(func() {
		_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
		err = c.ws.Close()
	})
	return err
}

func (c *tunnelConn) LocalAddr() net.Addr                { return c.ws.LocalAddr() }
func (c *tunnelConn) RemoteAddr() net.Addr               { return c.ws.RemoteAddr() }
func (c *tunnelConn) SetReadDeadline(t time.Time) error  { return c.ws.SetReadDeadline(t) }
func (c *tunnelConn) SetWriteDeadline(t time.Time) error { return c.ws.SetWriteDeadline(t) }
func (c *tunnelConn) SetDeadline(t time.Time) error {
	return errors.Join(c.ws.SetReadDeadline(t), c.ws.SetWriteDeadline(t))
}
