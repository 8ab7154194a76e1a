@spec-e2e
Feature: Training data and reference models
  Every quantization promise is measured on models trained here, on MNIST
  or on seeded synthetic data. The data must be read whole and checked, a
  damaged file must be refused at the place it is damaged, training must
  reach a stated accuracy, and a saved model must come back unchanged.

  Time: a @fast scenario has 2 seconds; each @slow scenario has 20
  minutes (@budget-20m), training on a cold cache included.

  @fast @mnist @R-e2e-4
  Rule: MNIST is read whole, and a damaged file is refused where it is damaged

    Scenario: The MNIST training and test sets
      Given the MNIST data set
      Then the training set holds 60,000 images and the test set 10,000 images
      And every image is 1x28x28 pixels with values from 0 to 1
      And every label is a digit from 0 to 9, each digit at least 5,000 times in the training set and at least 800 times in the test set

    Scenario Outline: A label file damaged by <damage> is refused at byte <offset>
      Given a copy of the MNIST file "t10k-labels-idx1-ubyte"
      When the copy is damaged by <damage>
      And the copy is read
      Then reading is refused with an error naming "t10k-labels-idx1-ubyte" and byte offset <offset>

      Examples:
        | damage                             | offset |
        | a wrong magic number               | 0      |
        | truncation to 1,000 bytes          | 8      |
        | a header announcing 10,001 items   | 8      |
        | one byte appended after the data   | 10,008 |

    Scenario: Test images and labels that do not pair up are refused, naming both files
      Given an MNIST folder whose test label file holds 9,999 labels for the 10,000 test images
      When the MNIST data set is loaded from that folder
      Then loading is refused with an error naming "t10k-images-idx3-ubyte" with 10,000 images and "t10k-labels-idx1-ubyte" with 9,999 labels

  @fast @R-e2e-4
  Rule: A small model learns a simple task

    # 93%: the worst held-out accuracy over seed offsets 0..20 (93.4%, the
    # blobs overlapping by chance at spread 4.0); chance is 25%.
    Scenario: A small MLP learns to tell four Gaussian blobs apart
      Given 3,000 samples of 4 Gaussian blobs in 8 dimensions with spread 4.0 and seed 7, the last 1,000 held out
      And an MLP with one hidden layer of 16 units, seed 1
      And its accuracy on the held-out samples is at most 50%
      When it is trained for 5 epochs on the other samples
      Then its accuracy on the held-out samples is at least 93%

  @fast @mnist @R-e2e-4
  Rule: A saved model comes back unchanged, and a damaged model file is refused

    Scenario Outline: A trained "<model>" model reloads with bit-identical outputs
      Given a "<model>" model with seed 3, trained for one epoch on the first 64 MNIST training images
      When it is saved to a file and loaded back
      Then the loaded model gives bit-identical outputs on the first 100 MNIST test images

      Examples:
        | model    |
        | mlp      |
        | cnn      |
        | residual |

    Scenario Outline: A model file damaged by <damage> is refused
      Given a "cnn" model with seed 3 saved to a file
      When the model file is damaged by <damage>
      And the model is loaded from the damaged file
      Then loading is refused with an error naming the file and "<reason>"

      Examples:
        | damage                       | reason            |
        | a flipped byte in its middle | checksum mismatch |
        | truncation to half its size  | truncated         |
        | a wrong magic number         | bad magic         |

  @slow @mnist @R-e2e-4 @budget-20m
  Rule: The reference models reach their accuracy on MNIST

    Scenario Outline: The "<model>" model reaches <accuracy>% test accuracy in <epochs> epochs
      Given the "<model>" model trained on MNIST for <epochs> epochs with seed 1
      Then its accuracy on the 10,000 MNIST test images is at least <accuracy>%

      Examples:
        | model | epochs | accuracy |
        | mlp   | 3      | 97.5     |
        | cnn   | 3      | 98.8     |
