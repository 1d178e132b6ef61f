// Aravis 0.8 (Debian 12: 0.8.26) for Swift. GObject cast and type-check macros and C variadic calls
// are not imported by Swift, so the few the camera driver needs are typed static inline helpers here.
#include <arv.h>

/// What kind of GenICam node a feature is (0: the device has no such feature).
typedef enum {
    OPERANDO_ARV_FEATURE_MISSING = 0,
    OPERANDO_ARV_FEATURE_INTEGER = 1,
    OPERANDO_ARV_FEATURE_FLOAT = 2,
    OPERANDO_ARV_FEATURE_ENUMERATION = 3,
    OPERANDO_ARV_FEATURE_COMMAND = 4,
    OPERANDO_ARV_FEATURE_BOOLEAN = 5,
    OPERANDO_ARV_FEATURE_STRING = 6,
    OPERANDO_ARV_FEATURE_OTHER = 7
} OperandoArvFeatureKind;

static inline OperandoArvFeatureKind operando_arv_feature_kind(ArvCamera *camera, const char *feature) {
    ArvDevice *device = arv_camera_get_device(camera);
    if (device == NULL) return OPERANDO_ARV_FEATURE_MISSING;
    ArvGcNode *node = arv_device_get_feature(device, feature);
    if (node == NULL) return OPERANDO_ARV_FEATURE_MISSING;
    // Enumeration before integer: an enumeration is not an integer node, but check the specific first.
    if (ARV_IS_GC_ENUMERATION(node)) return OPERANDO_ARV_FEATURE_ENUMERATION;
    if (ARV_IS_GC_COMMAND(node)) return OPERANDO_ARV_FEATURE_COMMAND;
    if (ARV_IS_GC_BOOLEAN(node)) return OPERANDO_ARV_FEATURE_BOOLEAN;
    if (ARV_IS_GC_FLOAT(node)) return OPERANDO_ARV_FEATURE_FLOAT;
    if (ARV_IS_GC_INTEGER(node)) return OPERANDO_ARV_FEATURE_INTEGER;
    if (ARV_IS_GC_STRING(node)) return OPERANDO_ARV_FEATURE_STRING;
    return OPERANDO_ARV_FEATURE_OTHER;
}

static inline void operando_g_object_unref(void *object) { if (object != NULL) g_object_unref(object); }

/// The in-process fake's ArvFakeCamera behind an opened device, or NULL when the device is not a fake.
static inline ArvFakeCamera *operando_arv_fake_camera_of(ArvCamera *camera) {
    ArvDevice *device = arv_camera_get_device(camera);
    if (device == NULL || !ARV_IS_FAKE_DEVICE(device)) return NULL;
    return arv_fake_device_get_fake_camera(ARV_FAKE_DEVICE(device));
}

static inline gboolean operando_arv_is_gv_device(ArvCamera *camera) { return arv_camera_is_gv_device(camera); }
static inline gboolean operando_arv_is_uv_device(ArvCamera *camera) { return arv_camera_is_uv_device(camera); }

/// Stream tuning for GigE Vision (no-op for other transports): how long to wait for a missing packet
/// and for a whole frame before the buffer is handed out as MISSING_PACKETS/TIMEOUT.
static inline void operando_arv_gv_stream_set_timeouts(ArvStream *stream, guint packet_timeout_us, guint frame_retention_us) {
    if (stream != NULL && ARV_IS_GV_STREAM(stream))
        g_object_set(G_OBJECT(stream), "packet-timeout", packet_timeout_us, "frame-retention", frame_retention_us, NULL);
}

/// The GigE fake's simulated packet loss (0…1 of GVSP packets dropped; the fake does not resend, so
/// a frame that lost any packet arrives as MISSING_PACKETS or TIMEOUT).
static inline void operando_arv_gv_fake_set_lost_ratio(ArvGvFakeCamera *camera, double ratio) {
    g_object_set(G_OBJECT(camera), "gvsp-lost-ratio", ratio, NULL);
}

/// Writable pixel memory of a buffer, for a fake camera's fill-pattern callback only (the buffer is the
/// fake's own; Aravis hands it to the callback to be painted).
static inline void *operando_arv_buffer_fill_data(ArvBuffer *buffer, size_t *size) {
    return (void *) arv_buffer_get_data(buffer, size);
}

#if ARAVIS_MAJOR_VERSION == 0 && ARAVIS_MINOR_VERSION == 8
// Aravis 0.8's private buffer layout (arvbufferprivate.h, unchanged 0.8.0…0.8.26+). A fill-pattern
// callback must report how many bytes it painted (the built-in patterns write `received_size`), and
// there is no public setter; without it the in-process fake stream reports an empty buffer.
typedef struct {
    size_t allocated_size;
    gboolean is_preallocated;
    unsigned char *data;
    void *user_data;
    GDestroyNotify user_data_destroy_func;
    ArvBufferStatus status;
    size_t received_size;
} OperandoArvBufferPrivateHead;
typedef struct { GObject object; OperandoArvBufferPrivateHead *priv; } OperandoArvBufferHead;

/// Bytes allocated for a buffer's data (what a fill-pattern callback may paint).
static inline size_t operando_arv_fake_buffer_allocated_size(ArvBuffer *buffer) {
    return ((OperandoArvBufferHead *) buffer)->priv->allocated_size;
}

/// Sets the byte count a fill-pattern callback painted (see above). Returns 0 if the size is larger
/// than the buffer.
static inline int operando_arv_fake_buffer_set_received_size(ArvBuffer *buffer, size_t size) {
    OperandoArvBufferHead *b = (OperandoArvBufferHead *) buffer;
    if (size > b->priv->allocated_size) return 0;
    b->priv->received_size = size;
    return 1;
}
#endif
