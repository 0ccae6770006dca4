/* fastslug._fastslug: the C half of fastslug.
 *
 * slugify(text) -> str: ASCII letters and digits kept (lower-cased); every run of anything else,
 *   including non-ASCII characters, becomes one '-'; no leading or trailing '-'.
 * fnv1a64(data) -> int: 64-bit FNV-1a of bytes, or of a str's UTF-8 encoding.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

static PyObject *slugify(PyObject *self, PyObject *arg) {
    Py_ssize_t len;
    const char *text;
    char *out;
    Py_ssize_t n = 0;
    int pending_dash = 0;
    PyObject *result;

    if (!PyUnicode_Check(arg)) {
        PyErr_Format(PyExc_TypeError, "slugify() argument must be str, not %.100s", Py_TYPE(arg)->tp_name);
        return NULL;
    }
    text = PyUnicode_AsUTF8AndSize(arg, &len);
    if (text == NULL) return NULL;
    /* A slug is never longer than its UTF-8 input. */
    out = PyMem_Malloc((size_t)len + 1);
    if (out == NULL) return PyErr_NoMemory();

    for (Py_ssize_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c >= 'A' && c <= 'Z') c = (unsigned char)(c - 'A' + 'a');
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
            if (pending_dash && n > 0) out[n++] = '-';
            pending_dash = 0;
            out[n++] = (char)c;
        } else {
            pending_dash = 1;
        }
    }
    result = PyUnicode_FromStringAndSize(out, n);
    PyMem_Free(out);
    return result;
}

static PyObject *fnv1a64(PyObject *self, PyObject *arg) {
    const unsigned char *data;
    Py_ssize_t len;
    Py_buffer view;
    int have_view = 0;
    uint64_t hash = 0xcbf29ce484222325ULL;

    if (PyUnicode_Check(arg)) {
        data = (const unsigned char *)PyUnicode_AsUTF8AndSize(arg, &len);
        if (data == NULL) return NULL;
    } else {
        if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0) return NULL;
        have_view = 1;
        data = view.buf;
        len = view.len;
    }
    for (Py_ssize_t i = 0; i < len; i++) {
        hash ^= data[i];
        hash *= 0x100000001b3ULL;
    }
    if (have_view) PyBuffer_Release(&view);
    return PyLong_FromUnsignedLongLong(hash);
}

static PyMethodDef methods[] = {
    {"slugify", slugify, METH_O, "slugify(text: str) -> str: lower-case ASCII words joined by '-'."},
    {"fnv1a64", fnv1a64, METH_O, "fnv1a64(data: bytes | str) -> int: 64-bit FNV-1a (str hashed as UTF-8)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "fastslug._fastslug", "slugify and FNV-1a in C", -1, methods,
};

PyMODINIT_FUNC PyInit__fastslug(void) { return PyModule_Create(&module); }
