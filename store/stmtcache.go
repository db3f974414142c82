package store

import (
	"container/list"
	"context"
	"database/sql/driver"
	"reflect"
	"strings"
)

// The SQLite statement cache. database/sql hands each query to a pooled
// connection, and the SQLite driver compiles its text every time: parsing
// and planning were 12 to 20% of the web pages' CPU at 100,000 people,
// more than running many of their queries. Each connection therefore keeps its
// recent statements compiled, by their text, and runs them again with new
// arguments. No call site changes: the cache sits between database/sql
// and the driver, so a query written with s.db.QueryContext, in a
// transaction or not, is cached.
//
// A statement whose plan SQLite lets depend on the values bound (through
// the sqlite_stat4 samples ANALYZE keeps) is still compiled again by
// SQLite when its values change: for those the cache saves one of the two
// compilations of each run (the driver's of the text, then SQLite's once
// the values are bound). The samples are worth it: without them a line manager's findings list
// (visibility over 99 people, one severity) is planned as a walk of every
// open finding by due date, 5 s instead of a few milliseconds at 100,000
// people.
//
// PostgreSQL needs none of this: pgx keeps its own statement cache per
// connection.

// stmtCacheSize is how many statements each SQLite connection keeps
// compiled. The web pages use a few dozen texts (lists of values make one
// text per length). A compiled statement costs a few kilobytes.
const stmtCacheSize = 128

// sqliteConn is what every connection of the SQLite driver implements,
// and so what a wrapper must forward (see sqlite.NewConnector).
type sqliteConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.ExecerContext
	driver.QueryerContext
	driver.Pinger
	driver.SessionResetter
	driver.Validator
}

// cachingConnector opens SQLite connections that cache their statements.
type cachingConnector struct{ driver.Connector }

func (c cachingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	sc, ok := conn.(sqliteConn)
	if !ok {
		return conn, nil // a driver without the interfaces: no cache
	}
	return &cachedConn{sqliteConn: sc, byText: map[string]*list.Element{}, lru: list.New()}, nil
}

// cachedConn is a SQLite connection with its statement cache. database/sql
// uses a connection from one goroutine at a time, so it needs no lock.
type cachedConn struct {
	sqliteConn
	byText map[string]*list.Element // of *cachedStmt
	lru    *list.List               // most recently used first
}

// cachedStmt is a compiled statement. It runs one query at a time: while
// its rows are open (busy), the same text on the same connection (a query
// inside another's loop, in a transaction) is compiled apart.
type cachedStmt struct {
	text    string
	stmt    driver.Stmt
	busy    bool
	evicted bool // out of the cache while busy: closed when its rows are
}

// Unwrap returns the driver's connection (sqlite.Limit and the like look
// through wrappers with it).
func (c *cachedConn) Unwrap() driver.Conn { return c.sqliteConn }

// cacheable tells whether a text is worth keeping compiled: one statement
// (the driver compiles a script statement by statement at every run, so
// keeping it saves nothing).
func cacheable(query string) bool {
	q := strings.TrimRight(query, " \t\r\n;")
	return !strings.Contains(q, ";")
}

// get returns the idle compiled statement of a text, compiling and caching
// it when needed; nil when the text is not cacheable or its statement is
// busy.
func (c *cachedConn) get(ctx context.Context, query string) (*cachedStmt, error) {
	if el, ok := c.byText[query]; ok {
		cs := el.Value.(*cachedStmt)
		if cs.busy {
			return nil, nil
		}
		c.lru.MoveToFront(el)
		return cs, nil
	}
	if !cacheable(query) {
		return nil, nil
	}
	st, err := c.sqliteConn.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	cs := &cachedStmt{text: query, stmt: st}
	c.byText[query] = c.lru.PushFront(cs)
	for c.lru.Len() > stmtCacheSize {
		c.evict(c.lru.Back())
	}
	return cs, nil
}

// evict drops a statement from the cache, closing it unless its rows are
// still open.
func (c *cachedConn) evict(el *list.Element) {
	cs := c.lru.Remove(el).(*cachedStmt)
	delete(c.byText, cs.text)
	if cs.busy {
		cs.evicted = true
		return
	}
	cs.stmt.Close()
}

func (c *cachedConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	cs, err := c.get(ctx, query)
	if err != nil {
		return nil, err
	}
	if cs == nil {
		return c.sqliteConn.QueryContext(ctx, query, args)
	}
	rows, err := cs.stmt.(driver.StmtQueryContext).QueryContext(ctx, args)
	if err != nil {
		return nil, err
	}
	cs.busy = true
	return newCachedRows(rows, cs), nil
}

func (c *cachedConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	cs, err := c.get(ctx, query)
	if err != nil {
		return nil, err
	}
	if cs == nil {
		return c.sqliteConn.ExecContext(ctx, query, args)
	}
	return cs.stmt.(driver.StmtExecContext).ExecContext(ctx, args)
}

// Close closes the cached statements, then the connection: SQLite would
// keep a connection with statements open alive as a zombie.
func (c *cachedConn) Close() error {
	for el := c.lru.Front(); el != nil; el = el.Next() {
		el.Value.(*cachedStmt).stmt.Close()
	}
	c.lru.Init()
	clear(c.byText)
	return c.sqliteConn.Close()
}

// cachedRows hands its statement back when closed.
type cachedRows struct {
	driver.Rows
	cs     *cachedStmt
	closed bool
}

// newCachedRows wraps rows, keeping the column type interfaces the
// driver's rows implement visible to database/sql.
func newCachedRows(r driver.Rows, cs *cachedStmt) driver.Rows {
	cr := &cachedRows{Rows: r, cs: cs}
	if _, ok := r.(columnTyper); ok {
		return &typedCachedRows{cr}
	}
	return cr
}

func (r *cachedRows) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	err := r.Rows.Close()
	r.cs.busy = false
	if r.cs.evicted {
		r.cs.stmt.Close()
	}
	return err
}

// columnTyper is what the SQLite driver's rows tell of their columns.
type columnTyper interface {
	driver.RowsColumnTypeDatabaseTypeName
	driver.RowsColumnTypeLength
	driver.RowsColumnTypeNullable
	driver.RowsColumnTypePrecisionScale
	driver.RowsColumnTypeScanType
}

type typedCachedRows struct{ *cachedRows }

func (r *typedCachedRows) t() columnTyper { return r.Rows.(columnTyper) }

func (r *typedCachedRows) ColumnTypeDatabaseTypeName(i int) string {
	return r.t().ColumnTypeDatabaseTypeName(i)
}
func (r *typedCachedRows) ColumnTypeLength(i int) (int64, bool) { return r.t().ColumnTypeLength(i) }
func (r *typedCachedRows) ColumnTypeNullable(i int) (bool, bool) {
	return r.t().ColumnTypeNullable(i)
}
func (r *typedCachedRows) ColumnTypePrecisionScale(i int) (int64, int64, bool) {
	return r.t().ColumnTypePrecisionScale(i)
}
func (r *typedCachedRows) ColumnTypeScanType(i int) reflect.Type { return r.t().ColumnTypeScanType(i) }
