from engine.midi.pickup import Pickup


def test_a_far_knob_does_nothing_until_it_reaches_the_value():
    p = Pickup()
    assert not p.move(0.9, target=0.3)
    assert not p.move(0.6, target=0.3)
    assert p.move(0.305, target=0.3)  # within tolerance
    assert p.move(0.9, target=0.3)  # engaged: follows from now on


def test_crossing_the_value_between_two_messages_engages():
    p = Pickup()
    assert not p.move(0.1, target=0.5)
    assert p.move(0.8, target=0.5)  # a fast move jumped over it


def test_release_makes_it_wait_again_and_an_unknown_value_engages_at_once():
    p = Pickup()
    assert p.move(0.2, target=None)
    p.release()
    assert not p.move(0.25, target=0.7)
    assert p.move(0.7, target=0.7)
