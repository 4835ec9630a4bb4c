/* The accounting path's two hot loops in C: radiusd.codec.scanning's scan and first_fields.
 *
 * Optional: radiusd.codec.scanning imports this module when it was built (setup.py builds it
 * when a compiler is at hand) and RADIUSD_PURE_PYTHON is not set; otherwise the pure-Python
 * functions of the same names run. Those are the reference: the tests run both on random and
 * mutated datagrams and require the same results and the same MalformedPacket reasons and
 * messages. Nothing here allocates per attribute beyond what the result holds.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#define MIN_PACKET_LENGTH 20
#define MAX_PACKET_LENGTH 4096 /* RFC 2865 §3 */
#define MESSAGE_AUTHENTICATOR 80 /* RFC 3579 §3.2 */

static PyObject *MalformedPacket; /* radiusd.codec.errors.MalformedPacket */

/* Raise MalformedPacket(reason, detail), detail formatted as PyUnicode_FromFormat does. */
static PyObject *
malformed(const char *reason, const char *format, ...)
{
    va_list va;
    va_start(va, format);
    PyObject *detail = PyUnicode_FromFormatV(format, va);
    va_end(va);
    if (detail == NULL)
        return NULL;
    PyObject *exc = PyObject_CallFunction(MalformedPacket, "sO", reason, detail);
    Py_DECREF(detail);
    if (exc != NULL) {
        PyErr_SetObject(MalformedPacket, exc);
        Py_DECREF(exc);
    }
    return NULL;
}

PyDoc_STRVAR(scan_doc,
"scan(data: bytes) -> (data, offsets, types, ma_offset)\n\n"
"radiusd.codec.scanning.scan in C (RFC 2865 §3, §5; RFC 3579 §3.2). bytes only.");

static PyObject *
scan(PyObject *module, PyObject *arg)
{
    if (!PyBytes_Check(arg)) {
        PyErr_Format(PyExc_TypeError, "scan() needs bytes, not %.100s", Py_TYPE(arg)->tp_name);
        return NULL;
    }
    const unsigned char *d = (const unsigned char *)PyBytes_AS_STRING(arg);
    Py_ssize_t n = PyBytes_GET_SIZE(arg);
    if (n < MIN_PACKET_LENGTH)
        return malformed("too-short", "datagram of %zd octets", n);
    Py_ssize_t length = ((Py_ssize_t)d[2] << 8) | d[3];
    if (length < MIN_PACKET_LENGTH || length > MAX_PACKET_LENGTH)
        return malformed("bad-length", "Length field %zd", length);
    if (length > n)
        return malformed("truncated", "Length field %zd but datagram of %zd octets", length, n);

    /* the walk: at most (4096 - 20) / 2 attributes */
    unsigned short offs[(MAX_PACKET_LENGTH - MIN_PACKET_LENGTH) / 2];
    unsigned char types[(MAX_PACKET_LENGTH - MIN_PACKET_LENGTH) / 2];
    Py_ssize_t count = 0, i = MIN_PACKET_LENGTH, ma_index = -1;
    while (i < length) {
        if (i + 1 >= length)
            return malformed("attribute-overrun", "attribute header at offset %zd past Length", i);
        unsigned char al = d[i + 1];
        if (al < 2)
            return malformed("bad-attribute-length", "attribute %d with length %d", (int)d[i], (int)al);
        if (d[i] == MESSAGE_AUTHENTICATOR) {
            if (ma_index < 0)
                ma_index = count;
        }
        offs[count] = (unsigned short)i;
        types[count] = d[i];
        count++;
        i += al;
    }
    if (i != length)
        return malformed("attribute-overrun", "attribute %d overruns the packet", (int)types[count - 1]);
    Py_ssize_t ma_offset = 0;
    if (ma_index >= 0) {
        Py_ssize_t o = offs[ma_index];
        if (d[o + 1] != 18)
            return malformed("bad-message-authenticator", "Message-Authenticator of %d octets", (int)d[o + 1]);
        if (memchr(types + ma_index + 1, MESSAGE_AUTHENTICATOR, count - ma_index - 1) != NULL)
            return malformed("bad-message-authenticator", "Message-Authenticator present twice");
        ma_offset = o + 2;
    }

    PyObject *data = NULL, *olist = NULL, *tbytes = NULL, *ma = NULL;
    if (length < n) {
        data = PyBytes_FromStringAndSize((const char *)d, length);
        if (data == NULL)
            goto fail;
    }
    else {
        data = Py_NewRef(arg);
    }
    olist = PyList_New(count);
    if (olist == NULL)
        goto fail;
    for (Py_ssize_t k = 0; k < count; k++) {
        PyObject *o = PyLong_FromLong(offs[k]); /* small ints below 257 are cached */
        if (o == NULL)
            goto fail;
        PyList_SET_ITEM(olist, k, o);
    }
    tbytes = PyBytes_FromStringAndSize((const char *)types, count);
    if (tbytes == NULL)
        goto fail;
    ma = PyLong_FromSsize_t(ma_offset);
    if (ma == NULL)
        goto fail;
    PyObject *result = PyTuple_New(4);
    if (result == NULL)
        goto fail;
    PyTuple_SET_ITEM(result, 0, data);
    PyTuple_SET_ITEM(result, 1, olist);
    PyTuple_SET_ITEM(result, 2, tbytes);
    PyTuple_SET_ITEM(result, 3, ma);
    return result;
fail:
    Py_XDECREF(data);
    Py_XDECREF(olist);
    Py_XDECREF(tbytes);
    Py_XDECREF(ma);
    return NULL;
}

PyDoc_STRVAR(first_fields_doc,
"first_fields(data, offsets, raw, u32) -> (raw values, u32 values)\n\n"
"radiusd.codec.scanning.first_fields in C. offsets as scan returns them; an offset whose\n"
"attribute is not inside data raises ValueError (the Python one never gets such input).");

static PyObject *
first_fields(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 4) {
        PyErr_Format(PyExc_TypeError, "first_fields() takes 4 arguments (%zd given)", nargs);
        return NULL;
    }
    PyObject *data = args[0], *offs = args[1], *raw = args[2], *u32 = args[3];
    if (!PyBytes_Check(data) || !PyList_Check(offs) || !PyBytes_Check(raw) || !PyBytes_Check(u32)) {
        PyErr_SetString(PyExc_TypeError, "first_fields() needs bytes, list, bytes, bytes");
        return NULL;
    }
    const unsigned char *d = (const unsigned char *)PyBytes_AS_STRING(data);
    Py_ssize_t n = PyBytes_GET_SIZE(data);

    /* the offset of each type's first occurrence, 0 when absent (no attribute starts at 0) */
    Py_ssize_t first[256];
    memset(first, 0, sizeof(first));
    Py_ssize_t count = PyList_GET_SIZE(offs);
    for (Py_ssize_t k = 0; k < count; k++) {
        Py_ssize_t o = PyLong_AsSsize_t(PyList_GET_ITEM(offs, k));
        if (o == -1 && PyErr_Occurred())
            return NULL;
        if (o < MIN_PACKET_LENGTH || o + 2 > n || d[o + 1] < 2 || o + d[o + 1] > n) {
            PyErr_Format(PyExc_ValueError, "offset %zd: no attribute there", o);
            return NULL;
        }
        if (first[d[o]] == 0)
            first[d[o]] = o;
    }

    const unsigned char *want = (const unsigned char *)PyBytes_AS_STRING(raw);
    Py_ssize_t nraw = PyBytes_GET_SIZE(raw);
    PyObject *raws = PyTuple_New(nraw);
    if (raws == NULL)
        return NULL;
    for (Py_ssize_t k = 0; k < nraw; k++) {
        Py_ssize_t o = first[want[k]];
        PyObject *v;
        if (o) {
            v = PyBytes_FromStringAndSize((const char *)d + o + 2, d[o + 1] - 2);
            if (v == NULL) {
                Py_DECREF(raws);
                return NULL;
            }
        }
        else {
            v = Py_NewRef(Py_None);
        }
        PyTuple_SET_ITEM(raws, k, v);
    }

    want = (const unsigned char *)PyBytes_AS_STRING(u32);
    Py_ssize_t nu32 = PyBytes_GET_SIZE(u32);
    PyObject *ints = PyTuple_New(nu32);
    if (ints == NULL) {
        Py_DECREF(raws);
        return NULL;
    }
    for (Py_ssize_t k = 0; k < nu32; k++) {
        Py_ssize_t o = first[want[k]];
        PyObject *v;
        if (o && d[o + 1] == 6) { /* RFC 2865 §5: an integer is 4 octets; any other length is None */
            const unsigned char *p = d + o + 2;
            unsigned long x = ((unsigned long)p[0] << 24) | ((unsigned long)p[1] << 16)
                            | ((unsigned long)p[2] << 8) | p[3];
            v = PyLong_FromUnsignedLong(x);
            if (v == NULL) {
                Py_DECREF(raws);
                Py_DECREF(ints);
                return NULL;
            }
        }
        else {
            v = Py_NewRef(Py_None);
        }
        PyTuple_SET_ITEM(ints, k, v);
    }
    PyObject *result = PyTuple_New(2);
    if (result == NULL) {
        Py_DECREF(raws);
        Py_DECREF(ints);
        return NULL;
    }
    PyTuple_SET_ITEM(result, 0, raws);
    PyTuple_SET_ITEM(result, 1, ints);
    return result;
}

static PyMethodDef methods[] = {
    {"scan", (PyCFunction)scan, METH_O, scan_doc},
    {"first_fields", (PyCFunction)(void (*)(void))first_fields, METH_FASTCALL, first_fields_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    "radiusd.codec._speedups",
    "radiusd.codec.scanning's scan and first_fields in C (optional; the Python ones are the reference).",
    -1,
    methods,
};

PyMODINIT_FUNC
PyInit__speedups(void)
{
    PyObject *errors = PyImport_ImportModule("radiusd.codec.errors");
    if (errors == NULL)
        return NULL;
    MalformedPacket = PyObject_GetAttrString(errors, "MalformedPacket");
    Py_DECREF(errors);
    if (MalformedPacket == NULL)
        return NULL;
    return PyModule_Create(&module);
}
