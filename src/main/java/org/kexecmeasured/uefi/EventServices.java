package org.kexecmeasured.uefi;

import org.kexecmeasured.uefi.spi.Call;
import org.kexecmeasured.uefi.spi.EfiStatus;
import org.kexecmeasured.uefi.spi.Events;
import org.kexecmeasured.uefi.spi.GuestMemory;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Event, Timer, and Task Priority Services (UEFI 2.10 §7.1) on a virtual clock that only Stall and
 * WaitForEvent advance: timers fire when the payload waits for them, never on the host's clock.
 * Notification functions are never called (no payload we run needs them before ExitBootServices).
 */
final class EventServices implements Events {

    /** Live events at most; CreateEvent past it is OUT_OF_RESOURCES. */
    static final int MAX_EVENTS = 10_000;
    /** Most events one WaitForEvent may wait for. */
    static final int MAX_WAIT = 64;
    /** EVT_TIMER. */
    private static final long EVT_TIMER = 0x80000000L;
    /** The TPL an application starts at; TPLs are only recorded, as nothing runs asynchronously. */
    private static final int TPL_APPLICATION = 4;

    /** EFI event state. */
    private static final class Event {
        final long type;
        boolean signaled;
        long deadline = -1;
        long period;

        Event(long type) {
            this.type = type;
        }
    }

    private final Machine machine;
    private final GuestMemory mem;
    private final Map<Long, Event> events = new LinkedHashMap<>();
    private long nowNanos;
    private int tpl = TPL_APPLICATION;

    EventServices(Machine machine) {
        this.machine = machine;
        this.mem = machine.mem();
    }

    /** Virtual time since the firmware started, in nanoseconds. */
    long nowNanos() {
        return nowNanos;
    }

    /** Advances the virtual clock (Stall). */
    void advanceTime(long nanos) {
        nowNanos += Math.max(0, nanos);
    }

    @Override
    public long newEvent() {
        long h = machine.fwAlloc(16);
        events.put(h, new Event(0));
        return h;
    }

    // ---------------------------------------------------------------- boot services

    /** RaiseTPL(NewTpl): returns the previous TPL. */
    long raiseTpl(Call c) {
        long old = tpl;
        tpl = (int) c.arg(0);
        return old;
    }

    /** RestoreTPL(OldTpl): VOID. */
    long restoreTpl(Call c) {
        tpl = (int) c.arg(0);
        return 0;
    }

    /** CreateEvent(Type, NotifyTpl, NotifyFunction, NotifyContext, *Event). */
    long createEvent(Call c) {
        return create(c.arg(0), c.arg(4));
    }

    /** CreateEventEx(Type, NotifyTpl, NotifyFunction, NotifyContext, EventGroup, *Event). */
    long createEventEx(Call c) {
        return create(c.arg(0), c.arg(5));
    }

    private long create(long type, long eventPtr) {
        if (eventPtr == 0) {
            return EfiStatus.INVALID_PARAMETER;
        }
        if (events.size() > MAX_EVENTS) {
            return EfiStatus.OUT_OF_RESOURCES;
        }
        long h = machine.fwAlloc(16);
        events.put(h, new Event(type));
        mem.putU64(eventPtr, h);
        return EfiStatus.SUCCESS;
    }

    /** SetTimer(Event, Type = Cancel | Periodic | Relative, TriggerTime in 100 ns units). */
    long setTimer(Call c) {
        Event e = events.get(c.arg(0));
        long kind = c.arg(1);
        long t = c.arg(2) * 100;
        if (e == null || (e.type & EVT_TIMER) == 0) {
            return EfiStatus.INVALID_PARAMETER;
        }
        if (kind == 0) {
            e.deadline = -1;
        } else if (kind == 1 || kind == 2) {
            e.deadline = nowNanos + t;
            e.period = kind == 1 ? Math.max(t, 1) : 0;
        } else {
            return EfiStatus.INVALID_PARAMETER;
        }
        return EfiStatus.SUCCESS;
    }

    /** WaitForEvent(NumberOfEvents, *Event, *Index): jumps the virtual clock to the earliest event to fire. */
    long waitForEvent(Call c) {
        long n = c.arg(0);
        long eventArray = c.arg(1);
        long indexPtr = c.arg(2);
        if (n == 0 || n > MAX_WAIT || eventArray == 0 || indexPtr == 0) {
            return EfiStatus.INVALID_PARAMETER;
        }
        List<Event> list = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            Event e = events.get(mem.u64(eventArray + 8L * i));
            if (e == null) {
                mem.putU64(indexPtr, i);
                return EfiStatus.INVALID_PARAMETER;
            }
            list.add(e);
        }
        // the earliest event to fire on the virtual clock; keys never arrive
        int best = -1;
        long when = Long.MAX_VALUE;
        for (int i = 0; i < list.size(); i++) {
            Event e = list.get(i);
            long w = e.signaled ? nowNanos : (e.deadline >= 0 ? e.deadline : Long.MAX_VALUE);
            if (w < when) {
                when = w;
                best = i;
            }
        }
        if (best < 0) {
            throw new EmulationException("WaitForEvent on events that never fire (no keyboard input in the emulator)");
        }
        nowNanos = Math.max(nowNanos, when);
        fire(list.get(best));
        mem.putU64(indexPtr, best);
        return EfiStatus.SUCCESS;
    }

    /** SignalEvent(Event). */
    long signalEvent(Call c) {
        Event e = events.get(c.arg(0));
        if (e == null) {
            return EfiStatus.INVALID_PARAMETER;
        }
        e.signaled = true;
        return EfiStatus.SUCCESS;
    }

    /** CloseEvent(Event). */
    long closeEvent(Call c) {
        return events.remove(c.arg(0)) == null ? EfiStatus.INVALID_PARAMETER : EfiStatus.SUCCESS;
    }

    /** CheckEvent(Event): SUCCESS (and the signal consumed) when signalled or its timer is due, else NOT_READY. */
    long checkEvent(Call c) {
        Event e = events.get(c.arg(0));
        if (e == null) {
            return EfiStatus.INVALID_PARAMETER;
        }
        if (e.signaled || (e.deadline >= 0 && e.deadline <= nowNanos)) {
            fire(e);
            return EfiStatus.SUCCESS;
        }
        return EfiStatus.NOT_READY;
    }

    /** Consumes a signal (or a due timer tick) of {@code e}. */
    private void fire(Event e) {
        e.signaled = false;
        if (e.deadline >= 0 && e.deadline <= nowNanos) {
            e.deadline = e.period > 0 ? e.deadline + e.period * Math.max(1, (nowNanos - e.deadline) / e.period + 1) : -1;
        }
    }
}
